CREATE FUNCTION touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $fn$
BEGIN
  NEW.updated_at := now(); -- ; inside
  RETURN NEW;
END;
$fn$;
CREATE TRIGGER t BEFORE UPDATE ON posts FOR EACH ROW EXECUTE FUNCTION touch_updated_at();
SELECT $$a;b$$, $tag$ $$ ; $$ $tag$, $1;
