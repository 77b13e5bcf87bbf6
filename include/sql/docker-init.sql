-- First start of the compose PostgreSQL: the Hypercare audit store's database and its
-- three roles (see README, Security). The passwords are for a local stack only: change
-- them with `alter role ... password` before anything else connects.
create role hypercare_owner login password 'hypercare-owner';
create role hypercare_writer login password 'hypercare-writer';
create role hypercare_reader login password 'hypercare-reader';
create database hypercare owner hypercare_owner;
