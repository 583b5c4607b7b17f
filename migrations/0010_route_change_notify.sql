-- The route table Traefik polls (server::routing) is cached in every server process and
-- rebuilt only when a route can have changed: a tenant appears, changes state or goes.
-- Each such change sends NOTIFY routes_changed (delivered at commit, folded to one per
-- transaction by PostgreSQL), which every process LISTENs to.

CREATE FUNCTION notify_routes_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('routes_changed', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

CREATE TRIGGER tenants_routes_inserted_or_deleted
    AFTER INSERT OR DELETE ON tenants
    FOR EACH ROW EXECUTE FUNCTION notify_routes_changed();

CREATE TRIGGER tenants_routes_state_changed
    AFTER UPDATE OF state, slug ON tenants
    FOR EACH ROW
    WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.slug IS DISTINCT FROM NEW.slug)
    EXECUTE FUNCTION notify_routes_changed();
