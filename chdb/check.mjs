// Runs SQL statements on the ClickHouse engine chDB embeds and reports each one's rows or error.
//
//   node check.mjs statements.json [session-dir]
//
// statements.json is an array of {"name": "...", "sql": "..."} (what
// clickhousestore.ModernStatements generates), run in order in one session so that later
// statements see the tables and rows of earlier ones. Prints a JSON array of
// {"name", "ok", "error", "rows"} on stdout, where rows are the JSONCompactEachRow lines a
// statement returned, left as text: JavaScript numbers would round Int64 values (nanosecond
// timestamps) that the caller must compare exactly, then a {"version": "..."} entry with the engine's version. Exits 1 when
// any statement failed, 2 on bad usage.
import { readFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Session } from "chdb";

const [file, dirArg] = process.argv.slice(2);
if (!file) {
  console.error("usage: node check.mjs statements.json [session-dir]");
  process.exit(2);
}
const statements = JSON.parse(readFileSync(file, "utf8"));
const dir = dirArg || mkdtempSync(join(tmpdir(), "chdb-check-"));
const session = new Session(dir);

const results = [];
let failed = false;
for (const { name, sql } of statements) {
  try {
    const out = session.query(sql, "JSONCompactEachRow");
    const rows = String(out ?? "")
      .split("\n")
      .filter((line) => line.trim() !== "");
    results.push({ name, ok: true, rows });
  } catch (e) {
    failed = true;
    results.push({ name, ok: false, error: String(e && e.message ? e.message : e) });
  }
}
const version = session.query("SELECT version()", "JSONCompactEachRow");
results.push({ name: "engine version", ok: true, rows: [String(version).trim()] });
if (typeof session.cleanup === "function") session.cleanup();
if (!dirArg) rmSync(dir, { recursive: true, force: true });
process.stdout.write(JSON.stringify(results, null, 1) + "\n");
process.exit(failed ? 1 : 0);
