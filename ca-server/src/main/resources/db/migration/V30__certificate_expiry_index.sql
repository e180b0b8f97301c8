-- Expired certificate records are deleted after a retention window (ExpiredCertificatePruner):
-- found by their expiry, oldest first, without reading the whole table.
create index issued_certificates_not_after on issued_certificates (not_after);
