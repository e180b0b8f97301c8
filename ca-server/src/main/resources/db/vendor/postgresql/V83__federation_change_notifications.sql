-- PostgreSQL only (issue 14): a federation added, removed or given a new foreign bundle on one
-- replica notifies the others at commit, as V21 does for keys, contracts, policies and revocations.
create trigger federations_changed after insert or update or delete on federations
    for each statement execute function lanyard_notify_change();
