-- Docker compose only (the local stack provisions the same through
-- trellis_infra.postgres.Postgres.ensure_service_role): one schema and one login role per service,
-- each with rights on its own schema alone. The postgres image runs this once, as postgres, in
-- the database trellis (POSTGRES_DB), when its data volume is new.
\set ON_ERROR_STOP on

-- Nobody but the owner (postgres) uses or creates in public; only roles granted CONNECT may log in
-- to this database, and nobody creates TEMP tables.
REVOKE ALL ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON DATABASE trellis FROM PUBLIC;

DO $$
DECLARE s text;
BEGIN
  FOREACH s IN ARRAY ARRAY['profiles', 'matching', 'sessions', 'notifications'] LOOP
    -- The development password <service>-dev, as the local stack's (Stack.service_password).
    EXECUTE format(
      'CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS '
      'INHERIT PASSWORD %L', s, s || '-dev');
    EXECUTE format('GRANT CONNECT ON DATABASE trellis TO %I', s);
    EXECUTE format('CREATE SCHEMA %I AUTHORIZATION %I', s, s);
    EXECUTE format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', s);
    EXECUTE format('ALTER ROLE %I IN DATABASE trellis SET search_path = %I', s, s);
    EXECUTE format('ALTER ROLE %I SET search_path = %I', s, s);
  END LOOP;
END $$;
