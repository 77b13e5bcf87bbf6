-- First start of the compose PostgreSQL: a role and database for the Hypercare audit store.
create role hypercare login password 'hypercare';
create database hypercare owner hypercare;
