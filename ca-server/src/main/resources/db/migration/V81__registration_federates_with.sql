-- SPIFFE federation (issue 14): the foreign trust domains a registered workload federates with,
-- space-separated (a trust domain name holds no space).
alter table registrations add column federates_with varchar(8000) default '' not null;
