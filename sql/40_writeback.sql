-- odoo_sync: write-back into Odoo (0.2.0). The outbox pattern: a role inserts rows into
-- scout.odoo_outbox in its own transaction, so nothing is sent unless that transaction commits;
-- the worker (after each round, and when woken by scout.odoo_push_soon()) or scout.odoo_push()
-- sends them with idempotent calls (crates/writeback), so that a crash or a lost answer between
-- Odoo's commit and ours re-sends the same change and never duplicates or drops it.
-- docs/DESIGN.md, "Write-back", has the whole story; README, "Write-back", the tags example.

-- What may be written, as (model, field) pairs. Checked when a row is inserted or changed, and
-- again when it is sent. Only the extension's owner (a superuser) changes it; nothing else in
-- Odoo can be written through odoo_sync, whatever a user puts in the outbox.
CREATE TABLE scout.writeback_fields (
    model text NOT NULL CHECK (model ~ '^[a-z_][a-z0-9_]*(\.[a-z0-9_]+)*$'),
    field text NOT NULL CHECK (field ~ '^[A-Za-z_][A-Za-z0-9_]*$'),
    PRIMARY KEY (model, field)
);
COMMENT ON TABLE scout.writeback_fields IS
  'odoo_sync: the Odoo fields write-back may write (model, field). Superuser only; archive needs (model, active).';
-- Partner tags: a tag's name, colour, parent and archiving; a partner's tags (link/unlink only).
INSERT INTO scout.writeback_fields (model, field) VALUES
  ('res.partner.category', 'name'),
  ('res.partner.category', 'color'),
  ('res.partner.category', 'parent_id'),
  ('res.partner.category', 'active'),
  ('res.partner', 'category_id');
-- Rows a superuser adds are kept by pg_dump; the defaults come with CREATE EXTENSION.
SELECT pg_catalog.pg_extension_config_dump('scout.writeback_fields',
  $$WHERE (model, field) NOT IN (('res.partner.category', 'name'), ('res.partner.category', 'color'),
    ('res.partner.category', 'parent_id'), ('res.partner.category', 'active'), ('res.partner', 'category_id'))$$);

CREATE TABLE scout.odoo_outbox (
    id            bigserial PRIMARY KEY,            -- rows of one record are sent in id order
    model         text NOT NULL,                    -- the Odoo model: res.partner.category
    -- Which record: our stable key for a record we own (created in Odoo under the external id
    -- odoo_sync.<model with _>__<key>), or the Odoo id of a record Odoo owns (a partner).
    external_key  text CHECK (external_key ~ '^[A-Za-z0-9_.-]{1,200}$'),
    odoo_id       bigint CHECK (odoo_id > 0),       -- given: Odoo's record; for ours, set once sent
    op            text NOT NULL DEFAULT 'upsert' CHECK (op IN ('upsert', 'archive')),
    -- field -> value: plain values; a many2one as an Odoo id or our key; a many2many as
    -- {"add": [...], "remove": [...]} (ids or keys), never the whole set.
    "values"      jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof("values") = 'object'),
    state         text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    attempts      int NOT NULL DEFAULT 0,           -- sends tried (a transient failure leaves it pending)
    last_error    text,                             -- Odoo's message (failed) or why it is still pending
    created_at    timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz,
    CONSTRAINT odoo_outbox_names_a_record CHECK (external_key IS NOT NULL OR odoo_id IS NOT NULL)
);
CREATE INDEX odoo_outbox_pending ON scout.odoo_outbox (id) WHERE state = 'pending';
-- The Odoo id of a record of ours, from its last sent row (many2many commands by key).
CREATE INDEX odoo_outbox_sent_keys ON scout.odoo_outbox (model, external_key, id DESC)
  WHERE state = 'sent' AND external_key IS NOT NULL;
COMMENT ON TABLE scout.odoo_outbox IS
  'odoo_sync: changes to write back into Odoo, sent once their transaction commits (state pending -> sent | failed).';
SELECT pg_catalog.pg_extension_config_dump('scout.odoo_outbox', '');
SELECT pg_catalog.pg_extension_config_dump('scout.odoo_outbox_id_seq', '');

-- The allow-list as text, for error details.
CREATE FUNCTION scout._writeback_allowed_text() RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT coalesce(string_agg(model || ' (' || fields || ')', ', ' ORDER BY model), 'nothing')
  FROM (SELECT model, string_agg(field, ', ' ORDER BY field) AS fields FROM scout.writeback_fields GROUP BY model) m
$$;

-- Checks a row when it is inserted or its change is edited, and makes it pending again: a
-- failed row is retried once it is changed. The sender's own updates (state, attempts, ...)
-- leave the change alone and pass unchecked.
CREATE FUNCTION scout._outbox_check() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  f text;
  v jsonb;
  verb text;
  r jsonb;
BEGIN
  IF TG_OP = 'UPDATE' AND (NEW.model, NEW.external_key, NEW.op, NEW."values")
                          IS NOT DISTINCT FROM (OLD.model, OLD.external_key, OLD.op, OLD."values")
     AND (NEW.external_key IS NOT NULL OR NEW.odoo_id IS NOT DISTINCT FROM OLD.odoo_id) THEN
    RETURN NEW;
  END IF;
  IF NEW.external_key IS NOT NULL AND NEW.odoo_id IS NOT NULL
     AND (TG_OP = 'INSERT' OR NEW.odoo_id IS DISTINCT FROM OLD.odoo_id) THEN
    RAISE EXCEPTION 'odoo_sync: an outbox row names its record by external_key or by odoo_id, not both'
      USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('model %s, external_key %s, odoo_id %s', NEW.model, NEW.external_key, NEW.odoo_id),
            HINT = 'external_key: a record odoo_sync creates and owns (a tag); odoo_id: a record Odoo owns (a partner).';
  END IF;
  FOR f IN SELECT jsonb_object_keys(NEW."values")
           UNION ALL SELECT 'active' WHERE NEW.op = 'archive' LOOP
    IF NOT EXISTS (SELECT 1 FROM scout.writeback_fields w WHERE w.model = NEW.model AND w.field = f) THEN
      RAISE EXCEPTION 'odoo_sync: writing %.% back to Odoo is not allowed', NEW.model, f
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = 'scout.writeback_fields allows: ' || scout._writeback_allowed_text() || '.'
                       || CASE WHEN f = 'active' AND NEW.op = 'archive' THEN ' Archiving writes active.' ELSE '' END,
              HINT = format('A superuser allows it with: INSERT INTO scout.writeback_fields (model, field) VALUES (%L, %L);',
                            NEW.model, f);
    END IF;
    v := NEW."values" -> f;
    IF jsonb_typeof(v) = 'array' THEN
      RAISE EXCEPTION 'odoo_sync: %.% is given a list; a many2many change is {"add": [...], "remove": [...]}', NEW.model, f
        USING ERRCODE = 'invalid_parameter_value',
              HINT = 'Write-back never replaces a whole set: it links and unlinks the records named.';
    ELSIF jsonb_typeof(v) = 'object' THEN
      FOR verb IN SELECT jsonb_object_keys(v) LOOP
        IF verb NOT IN ('add', 'remove') OR jsonb_typeof(v -> verb) <> 'array' THEN
          RAISE EXCEPTION 'odoo_sync: %.% has "%"; a many2many change is {"add": [...], "remove": [...]}', NEW.model, f, verb
            USING ERRCODE = 'invalid_parameter_value';
        END IF;
        FOR r IN SELECT jsonb_array_elements(v -> verb) LOOP
          IF NOT ((jsonb_typeof(r) = 'number' AND r::text ~ '^[1-9][0-9]*$')
                  OR (jsonb_typeof(r) = 'string' AND r #>> '{}' ~ '^[A-Za-z0-9_.-]{1,200}$')) THEN
            RAISE EXCEPTION 'odoo_sync: %.% %: % is neither an Odoo id nor one of our keys', NEW.model, f, verb, r
              USING ERRCODE = 'invalid_parameter_value',
                    HINT = 'An Odoo id is a positive integer; a key is what the related record''s outbox rows call external_key.';
          END IF;
        END LOOP;
      END LOOP;
    END IF;
  END LOOP;
  -- A row with nothing to write still needs its model allowed (it would be "sent" as nothing).
  IF NOT EXISTS (SELECT 1 FROM scout.writeback_fields w WHERE w.model = NEW.model) THEN
    RAISE EXCEPTION 'odoo_sync: writing % back to Odoo is not allowed: no field of it is on scout.writeback_fields', NEW.model
      USING ERRCODE = 'insufficient_privilege',
            DETAIL = 'scout.writeback_fields allows: ' || scout._writeback_allowed_text() || '.',
            HINT = 'A superuser allows a field with: INSERT INTO scout.writeback_fields (model, field) VALUES (...);';
  END IF;
  NEW.state := 'pending';
  NEW.attempts := 0;
  NEW.last_error := NULL;
  NEW.sent_at := NULL;
  IF NEW.external_key IS NOT NULL THEN
    NEW.odoo_id := NULL;
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER odoo_outbox_check BEFORE INSERT OR UPDATE ON scout.odoo_outbox
  FOR EACH ROW EXECUTE FUNCTION scout._outbox_check();

-- New rows wake the worker once their transaction commits (scout.odoo_push_soon()).
CREATE FUNCTION scout._outbox_wake() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM scout.odoo_push_soon();
  RETURN NULL;
END
$$;
CREATE TRIGGER odoo_outbox_wake AFTER INSERT OR UPDATE OF "values", op ON scout.odoo_outbox
  FOR EACH STATEMENT EXECUTE FUNCTION scout._outbox_wake();

-- Our key of a partner tag: 'VIP Customers' -> 'vip_customers_' || 12 hex digits of the
-- name's md5. The readable part helps a person reading Odoo's external ids; the digest makes
-- two names a user sees as different two keys ('Promo A', 'promo-a' and 'PROMO_A!' are three
-- tags), and gives any Unicode name ('顧客') a key. NULL for a name that is empty once trimmed.
CREATE FUNCTION scout.tag_key(tag text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT CASE WHEN btrim(tag) <> '' THEN
    coalesce(nullif(left(btrim(regexp_replace(lower(btrim(tag)), '[^a-z0-9]+', '_', 'g'), '_'), 60), '') || '_', 'tag_')
    || left(md5(btrim(tag)), 12) END
$$;

-- The key of the tag our outbox last named `tag` (trimmed), if any: a tag made before keys had
-- a digest keeps its key, and a tag renamed by write-back is found under its new name.
-- SECURITY DEFINER, and executable by tag_customers' callers: they need not read the outbox;
-- it tells no more than the key of a tag name the caller already knows.
CREATE FUNCTION scout._tag_key_in_use(tag text) RETURNS text
LANGUAGE sql STABLE STRICT SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
  SELECT t.external_key FROM (
    SELECT DISTINCT ON (o.external_key) o.external_key, o."values" ->> 'name' AS name
    FROM scout.odoo_outbox o
    WHERE o.model = 'res.partner.category' AND o.external_key IS NOT NULL AND o."values" ? 'name'
    ORDER BY o.external_key, o.id DESC) t
  WHERE t.name = btrim(tag)
  ORDER BY t.external_key LIMIT 1
$$;

-- Makes the tag if needed and adds it to those partners (with "replace", the tag's members
-- become exactly those: it is also removed from the partners silver shows with it), as outbox
-- rows; returns the number of rows queued. The caller needs INSERT on scout.odoo_outbox (and
-- SELECT on scout.customers and scout.odoo_outbox for "replace"): README, "Write-back".
CREATE FUNCTION scout.tag_customers(tag text, customer_ids bigint[], "replace" boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  k text := coalesce(scout._tag_key_in_use(tag), scout.tag_key(tag));
  n bigint;
  removed bigint := 0;
  tag_id bigint;
BEGIN
  IF k IS NULL THEN
    RAISE EXCEPTION 'odoo_sync: tag_customers needs a tag name that is not empty, got %', coalesce(quote_literal(tag), 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF customer_ids IS NULL OR EXISTS (SELECT 1 FROM unnest(customer_ids) c WHERE c IS NULL OR c <= 0) THEN
    RAISE EXCEPTION 'odoo_sync: tag_customers takes Odoo partner ids (scout.customers.id), positive and not NULL'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  INSERT INTO scout.odoo_outbox (model, external_key, "values")
  VALUES ('res.partner.category', k, jsonb_build_object('name', btrim(tag)));
  INSERT INTO scout.odoo_outbox (model, odoo_id, "values")
  SELECT 'res.partner', c, jsonb_build_object('category_id', jsonb_build_object('add', jsonb_build_array(k)))
  FROM (SELECT DISTINCT c FROM unnest(customer_ids) c) u ORDER BY c;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF "replace" THEN
    SELECT o.odoo_id INTO tag_id FROM scout.odoo_outbox o
    WHERE o.model = 'res.partner.category' AND o.external_key = k AND o.state = 'sent' AND o.odoo_id IS NOT NULL
    ORDER BY o.id DESC LIMIT 1;
    IF tag_id IS NOT NULL THEN
      INSERT INTO scout.odoo_outbox (model, odoo_id, "values")
      SELECT 'res.partner', c.id, jsonb_build_object('category_id', jsonb_build_object('remove', jsonb_build_array(k)))
      FROM scout.customers c
      WHERE c.deleted_at IS NULL AND tag_id = ANY (c.tag_ids) AND c.id <> ALL (customer_ids)
      ORDER BY c.id;
      GET DIAGNOSTICS removed = ROW_COUNT;
    END IF;
  END IF;
  RETURN 1 + n + removed;
END
$$;

-- The outbox at a glance (a sibling of scout.sync_status).
CREATE VIEW scout.outbox_status AS
SELECT count(*) FILTER (WHERE state = 'pending')        AS pending,
       count(*) FILTER (WHERE state = 'failed')         AS failed,
       count(*) FILTER (WHERE state = 'sent')           AS sent,
       min(created_at) FILTER (WHERE state = 'pending') AS oldest_pending,
       max(sent_at)                                     AS last_sent_at,
       (SELECT o.last_error FROM scout.odoo_outbox o
        WHERE o.state <> 'sent' AND o.last_error IS NOT NULL ORDER BY o.id DESC LIMIT 1) AS last_error
FROM scout.odoo_outbox;
COMMENT ON VIEW scout.outbox_status IS 'odoo_sync: write-back rows pending, failed and sent, the oldest pending, the last error.';
