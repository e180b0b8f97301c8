-- Revocation across the federation (issue 14): revocations a federated trust domain's Lanyard
-- published, re-published here to local watchers. '' for this server's own revocations.
alter table revocation_events add column trust_domain varchar(255) default '' not null;
