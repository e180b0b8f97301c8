-- The sequence of the newest revocation document applied from each federated trust domain, kept with
-- its relationship (a replaced relationship starts afresh at -1). Held in memory only, a restarted
-- server or another replica took in an older copy a caching proxy served and lifted what the newer
-- one revoked; in the database, every replica refuses a document older than any of them applied.
alter table federations add column revocation_sequence bigint default -1 not null;
