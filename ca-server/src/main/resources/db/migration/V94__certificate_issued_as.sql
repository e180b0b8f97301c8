-- What each certificate was issued as: 'workload' (bootstrap with a join token or node attestation,
-- renewal, an agent's workload SVIDs) or 'local' (the server's own TLS certificate, the dev admin
-- credential). An admin call refuses a workload's certificate, so a certificate issued to an ID as a
-- workload (a replica that did not name it an admin, or before it was named one) is never an admin's.
-- Rows from before this column, and rows a replica still on the previous version writes, default to
-- 'workload' (refused, not trusted); those the server issued itself are found by their
-- certificate.local audit record, so a dev admin credential already written keeps working.
alter table issued_certificates add column issued_as varchar(16) default 'workload' not null;
update issued_certificates set issued_as = 'local'
    where spiffe_id || ' serial ' || serial_hex in (select target from audit_events where action = 'certificate.local');
