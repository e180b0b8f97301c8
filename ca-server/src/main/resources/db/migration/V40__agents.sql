-- Node agents (issue 12): registrations may name a parent (an agent ID or a node selector) and
-- carry workload selectors; agents are recorded with the node selectors their attestation proved.
-- Selectors are newline-separated: a selector value (a path, a subject CN) may hold spaces, never a newline.

alter table registrations add column parent_id varchar(2048);
alter table registrations add column selectors varchar(8000) default '' not null;
create index registrations_parent_id on registrations (parent_id);

create table agents (
    spiffe_id      varchar(2048) primary key,
    attestor       varchar(32) not null,
    node_selectors varchar(8000) not null,
    attested_at    timestamp with time zone not null
);
