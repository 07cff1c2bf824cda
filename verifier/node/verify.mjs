#!/usr/bin/env node
// An independent verifier of otelcol-audit evidence exports, written from
// docs/TAMPER_EVIDENCE.md ("Exports" and "Encodings") alone. No dependencies: Node's own
// crypto has SHA-256 and Ed25519.
//
//   node verify.mjs [--public-key PEM]... [--json] EXPORT_DIR
//
// Exit codes: 0 intact, 3 tampering found, 4 intact but some checkpoints are signed by keys
// not given, 1 the export cannot be read, 2 usage.

import { createHash, createPublicKey, verify as edVerify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const FORMAT = 'otelcol-audit export v1';
const SIGNED_PREFIX = 'otelcol-audit checkpoint v1\n';
const LEVELS = ['debug', 'info', 'warn', 'error', 'security']; // level byte = index + 1

const R = {
  fileAltered: 'export file altered: its SHA-256 differs from the manifest',
  anchorUnpinned: 'export anchor not pinned: no checkpoint in the export has the anchor\'s seq and head',
  recordAltered: 'record altered: its content no longer matches its chain link',
  recordDeleted: 'record deleted: missing, and no signed retention run removed it',
  linkAltered: 'chain link altered: its hash does not follow from the previous link',
  linkMissing: 'chain link missing: a sequence number is absent',
  linkDuplicated: 'chain link duplicated: two links share a sequence number',
  chainRewritten: 'chain rewritten: the recomputed head differs from a signed checkpoint',
  badSignature: 'checkpoint signature invalid',
  unchained: 'record inserted outside the chain',
  tooFar: 'checkpoint beyond the chain head: links after it were removed',
  tenantChange: 'record moved to another tenant',
  unsignedAfterSigned: 'unsigned checkpoint after a signed one: a signature was removed, or signing was turned off',
  notCanonical: 'record not in its canonical encoding',
  digestChainBroken: 'digest chain broken: a digest file was removed, reordered or edited',
  checkpointDeleted: 'checkpoint deleted from the store: a digest holds it',
  checkpointRewritten: 'checkpoint rewritten in the store: it differs from the one a digest holds',
};
const DIGEST_FORMAT = 'otelcol-audit digest v1';

class Unreadable extends Error {}

const sha256 = (buf) => createHash('sha256').update(buf).digest();
const hex = (buf) => Buffer.from(buf).toString('hex');

function u64(s, what) {
  if (typeof s !== 'string' || !/^[0-9]+$/.test(s)) throw new Unreadable(`${what}: ${JSON.stringify(s)}: want a decimal string`);
  const v = BigInt(s);
  if (v >= 1n << 64n) throw new Unreadable(`${what}: ${s}: beyond 64 bits`);
  return v;
}
function i64(s, what) {
  if (typeof s !== 'string' || !/^-?[0-9]+$/.test(s)) throw new Unreadable(`${what}: ${JSON.stringify(s)}: want a decimal string`);
  const v = BigInt(s);
  if (v < -(1n << 63n) || v >= 1n << 63n) throw new Unreadable(`${what}: ${s}: beyond 64 bits`);
  return v;
}
function hash32(s, what) {
  if (typeof s !== 'string' || !/^[0-9a-f]{64}$/.test(s)) throw new Unreadable(`${what}: want 64 lower-case hex digits`);
  return s;
}

// NDJSON lines: the file without its final newline, split at each newline.
function lines(buf) {
  let end = buf.length;
  if (end > 0 && buf[end - 1] === 0x0a) end--;
  if (end === 0) return [];
  const out = [];
  let start = 0;
  for (let i = 0; i <= end; i++) {
    if (i === end || buf[i] === 0x0a) { out.push(buf.subarray(start, i)); start = i + 1; }
  }
  return out;
}

// A JSON string as the signed checkpoint bytes write the tenant: ", \ and control characters
// escaped (\b \f \n \r \t by name, others as \u00xx), <, >, &, U+2028 and U+2029 as \uXXXX.
function jsonString(s) {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0);
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || ch === '<' || ch === '>' || ch === '&' || c === 0x2028 || c === 0x2029) out += '\\u' + c.toString(16).padStart(4, '0');
    else out += ch;
  }
  return out + '"';
}

// The canonical record encoding's string escaping: as jsonString, but <, > and & as they are.
function canonicalString(s) {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0);
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20 || c === 0x2028 || c === 0x2029 || (c >= 0xd800 && c <= 0xdfff)) out += '\\u' + c.toString(16).padStart(4, '0');
    else out += ch;
  }
  return out + '"';
}

const RECORD_KEYS = ['actor_id', 'attributes', 'company_id', 'duration_ms', 'employee_id', 'entity_id', 'entity_type', 'event',
  'geo_city', 'geo_country', 'id', 'ip_address', 'level', 'message', 'method', 'observed_timestamp', 'path', 'resource', 'scope',
  'service_name', 'severity_number', 'severity_text', 'span_id', 'status_code', 'tags', 'tenant_id', 'timestamp', 'trace_id',
  'user_agent', 'user_id', 'username'];

// A JSON reader that keeps each number's text, since a record's 64-bit integers do not fit a
// double: values are {s: string}, {n: text}, true, false, null, arrays, or {o: [[key, value]...]}.
function parseJSON(text) {
  let i = 0;
  const fail = (what) => { throw new Error(`${what} at offset ${i}`); };
  const ws = () => { while (i < text.length && ' \t\n\r'.includes(text[i])) i++; };
  const value = () => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++; const o = []; ws();
      if (text[i] === '}') { i++; return { o }; }
      for (;;) {
        ws(); if (text[i] !== '"') fail('expected a key');
        const k = str(); ws(); if (text[i++] !== ':') fail('expected :');
        o.push([k, value()]); ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i++] !== '}') fail('expected , or }');
        return { o };
      }
    }
    if (c === '[') {
      i++; const a = []; ws();
      if (text[i] === ']') { i++; return a; }
      for (;;) {
        a.push(value()); ws();
        if (text[i] === ',') { i++; continue; }
        if (text[i++] !== ']') fail('expected , or ]');
        return a;
      }
    }
    if (c === '"') return { s: str() };
    if (text.startsWith('true', i)) { i += 4; return true; }
    if (text.startsWith('false', i)) { i += 5; return false; }
    if (text.startsWith('null', i)) { i += 4; return null; }
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(i, i + 400));
    if (!m) fail('expected a value');
    i += m[0].length;
    return { n: m[0] };
  };
  const str = () => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
    if (i >= text.length) fail('unterminated string');
    i++;
    return JSON.parse(text.slice(start, i));
  };
  const v = value(); ws();
  if (i !== text.length) fail('trailing text');
  return v;
}

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
// A number is canonical as an integer within int64 (no -0), or as the shortest form that
// round-trips its double (which is what JavaScript's String(number) writes, exponent included).
function canonicalNumber(t) {
  if (/^-?(0|[1-9][0-9]*)$/.test(t) && t !== '-0') {
    const v = BigInt(t);
    if (v >= INT64_MIN && v <= INT64_MAX) return t;
  }
  return String(Number(t));
}

function canonicalValue(v) {
  if (v === null || v === true || v === false) return String(v);
  if (Array.isArray(v)) return '[' + v.map(canonicalValue).join(',') + ']';
  if ('s' in v) return canonicalString(v.s);
  if ('n' in v) return canonicalNumber(v.n);
  const entries = [...v.o].sort((a, b) => Buffer.compare(Buffer.from(a[0], 'utf8'), Buffer.from(b[0], 'utf8')));
  return '{' + entries.map(([k, e]) => canonicalString(k) + ':' + canonicalValue(e)).join(',') + '}';
}

// isCanonical re-encodes a record line by the rules and compares bytes: a record whose digest
// matches its link but that these rules would encode otherwise means the documentation and the
// collector disagree.
function isCanonical(bytes) {
  let v;
  try { v = parseJSON(bytes.toString('utf8')); } catch { return false; }
  if (!v || !v.o || v.o.map((e) => e[0]).join(',') !== RECORD_KEYS.join(',')) return false;
  return Buffer.from(canonicalValue(v), 'utf8').equals(bytes);
}

function signedBytes(cp) {
  const cut = LEVELS.filter((l) => l in cp.cutoffs).map((l) => `"${l}":${cp.cutoffs[l]}`).join(',');
  return Buffer.from(`${SIGNED_PREFIX}{"tenant":${jsonString(cp.tenant)},"seq":${cp.seq},"head":"${cp.head}","time":${cp.time},"kind":"${cp.kind}","cutoffs":{${cut}}}`, 'utf8');
}

function loadKey(pem, listedID, where) {
  let key;
  try { key = createPublicKey(pem); } catch (e) { throw new Unreadable(`${where}: not a public key: ${e.message}`); }
  if (key.asymmetricKeyType !== 'ed25519') throw new Unreadable(`${where}: a ${key.asymmetricKeyType} key, want Ed25519`);
  const raw = key.export({ format: 'der', type: 'spki' }).subarray(-32); // the SPKI ends with the 32 raw bytes
  const id = hex(sha256(raw).subarray(0, 8));
  if (listedID !== undefined && listedID !== id) throw new Unreadable(`${where}: key listed as ${listedID} has the id ${id}`);
  return { id, key };
}

// A portable checkpoint, its 64-bit values as BigInt.
function portable(c, where) {
  const cutoffs = {};
  for (const [k, v] of Object.entries(c.cutoffs ?? {})) {
    if (!LEVELS.includes(k)) throw new Unreadable(`${where}: cutoff level ${JSON.stringify(k)}`);
    cutoffs[k] = i64(v, `${where}: cutoff ${k}`);
  }
  return { tenant: c.tenant, seq: u64(c.seq, `${where}: seq`), head: hash32(c.head, `${where}: head`), time: i64(c.time, `${where}: time`),
    kind: c.kind, cutoffs, keyID: c.key_id ?? '', signature: Buffer.from(c.signature ?? '', 'base64') };
}

// Two checkpoints are the same when they sign the same bytes with the same key and signature.
const sameCheckpoint = (a, b) => signedBytes(a).equals(signedBytes(b)) && a.keyID === b.keyID && a.signature.equals(b.signature);

function readExport(dir) {
  const read = (name) => {
    try { return readFileSync(join(dir, name)); } catch (e) { throw new Unreadable(`${name}: ${e.message}`); }
  };
  let manifest;
  try { manifest = JSON.parse(read('manifest.json').toString('utf8')); } catch (e) { throw e instanceof Unreadable ? e : new Unreadable(`manifest.json: ${e.message}`); }
  if (manifest.format !== FORMAT) throw new Unreadable(`manifest.json: format ${JSON.stringify(manifest.format)}, want ${JSON.stringify(FORMAT)}`);
  const files = new Map();
  for (const f of manifest.files) {
    if (!f.name || f.name.startsWith('/') || f.name.includes('..') || f.name.includes('\\')) throw new Unreadable(`manifest.json: file name ${JSON.stringify(f.name)}: want a relative path inside the export`);
    files.set(f.name, read(f.name));
  }
  for (const name of ['links.ndjson', 'records.ndjson', 'checkpoints.ndjson', 'keys.json']) {
    if (!files.has(name)) throw new Unreadable(`manifest.json does not list ${name}`);
  }
  const parse = (buf, name, i) => {
    try { return JSON.parse(buf.toString('utf8')); } catch (e) { throw new Unreadable(`${name} line ${i + 1}: ${e.message}`); }
  };
  const links = lines(files.get('links.ndjson')).map((b, i) => {
    const l = parse(b, 'links.ndjson', i);
    const where = `links.ndjson line ${i + 1}`;
    if (!Number.isInteger(l.level) || l.level < 0 || l.level > 255) throw new Unreadable(`${where}: level ${l.level}: want 1 to 5`);
    return { seq: u64(l.seq, `${where}: seq`), recordID: String(l.record_id), timestamp: i64(l.timestamp, `${where}: timestamp`),
      level: l.level, recordHash: hash32(l.record_hash, `${where}: record_hash`), hash: hash32(l.hash, `${where}: hash`) };
  });
  const records = lines(files.get('records.ndjson')).map((b, i) => {
    const r = parse(b, 'records.ndjson', i);
    return { bytes: b, id: r.id, tenant: r.tenant_id };
  });
  const checkpoints = lines(files.get('checkpoints.ndjson')).map((b, i) => portable(parse(b, 'checkpoints.ndjson', i), `checkpoints.ndjson line ${i + 1}`));
  // Digests: the files under digests/, in name order.
  const digests = [...files.keys()].filter((n) => n.startsWith('digests/')).sort().map((n) => {
    const name = n.slice('digests/'.length);
    let d;
    try { d = JSON.parse(files.get(n).toString('utf8')); } catch (e) { throw new Unreadable(`${n}: ${e.message}`); }
    if (d.format !== DIGEST_FORMAT) throw new Unreadable(`${n}: format ${JSON.stringify(d.format)}, want ${JSON.stringify(DIGEST_FORMAT)}`);
    return { name, bytes: files.get(n), tenant: d.tenant, seq: d.seq, previous: d.previous,
      checkpoints: (d.checkpoints ?? []).map((c, i) => portable(c, `${n} checkpoint ${i + 1}`)) };
  });
  let keyList;
  try { keyList = JSON.parse(files.get('keys.json').toString('utf8')); } catch (e) { throw new Unreadable(`keys.json: ${e.message}`); }
  const keys = new Map();
  for (const k of keyList) { const { id, key } = loadKey(k.public_key, k.key_id, `keys.json key ${k.key_id}`); keys.set(id, key); }
  return { manifest, files, links, records, checkpoints, digests, keys };
}

function verifyExport(x, keys) {
  const rep = { tenant: x.manifest.tenant, ok: true, from_seq: '0', to_seq: '0', records_checked: 0, records_pruned: 0,
    checkpoints_checked: 0, signatures_checked: keys.size > 0, signed_checkpoints: 0, unsigned_checkpoints: 0,
    unknown_keys: [], signed_through_seq: '0', unsigned_tail: '0', digests: 0, digested_through_seq: '0', first_broken: null };
  const broken = (b) => { rep.ok = false; rep.first_broken = { seq: String(b.seq ?? 0n), record_id: b.record_id ?? '', reason: b.reason }; return rep; };

  // 1. Files.
  for (const f of x.manifest.files) {
    const got = hex(sha256(x.files.get(f.name)));
    if (got !== f.sha256) return broken({ record_id: f.name, reason: R.fileAltered });
  }
  // 2. Signatures, checkpoints in seq order (then time; the sort is stable, so file order last).
  const cps = [...x.checkpoints].sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  for (const cp of cps) if (cp.tenant !== x.manifest.tenant) throw new Unreadable(`a checkpoint of tenant ${JSON.stringify(cp.tenant)} in the export of ${JSON.stringify(x.manifest.tenant)}`);
  if (keys.size > 0) {
    let signedSeen = false;
    let signedThrough = 0n;
    for (const cp of cps) {
      const hasSig = cp.signature.length > 0;
      if (!hasSig && cp.keyID === '') {
        if (signedSeen) return broken({ seq: cp.seq, reason: R.unsignedAfterSigned });
        rep.unsigned_checkpoints++;
      } else if (keys.has(cp.keyID)) {
        if (!hasSig || !edVerify(null, signedBytes(cp), keys.get(cp.keyID), cp.signature)) return broken({ seq: cp.seq, reason: R.badSignature });
        signedSeen = true;
        rep.signed_checkpoints++;
        if (cp.seq > signedThrough) signedThrough = cp.seq;
        rep.signed_through_seq = String(signedThrough);
      } else if (cp.keyID === '' || !hasSig) {
        return broken({ seq: cp.seq, reason: R.badSignature });
      } else {
        signedSeen = true;
        if (!rep.unknown_keys.includes(cp.keyID)) rep.unknown_keys.push(cp.keyID);
      }
    }
  }
  const anchorSeq = u64(x.manifest.anchor_seq, 'manifest.json: anchor_seq');
  const anchorHash = hash32(x.manifest.anchor_hash, 'manifest.json: anchor_hash');
  const last = x.links.length > 0 ? x.links[x.links.length - 1].seq : anchorSeq;
  // 3. Digests: an unbroken chain, and the checkpoints they hold in the range present as signed.
  if (x.digests.length > 0) {
    let prev = '0'.repeat(64);
    const held = [];
    for (let i = 0; i < x.digests.length; i++) {
      const d = x.digests[i];
      if (d.tenant !== x.manifest.tenant || d.seq !== String(i + 1) || d.previous !== prev) return broken({ record_id: d.name, reason: R.digestChainBroken });
      for (const cp of d.checkpoints) {
        if (cp.tenant !== x.manifest.tenant) return broken({ seq: cp.seq, record_id: d.name, reason: R.digestChainBroken });
        held.push(cp);
      }
      prev = hex(sha256(d.bytes));
    }
    for (const h of held) {
      if (h.seq < anchorSeq || h.seq > last) continue;
      let found = false;
      for (const cp of cps) {
        if (cp.seq !== h.seq || cp.time !== h.time) continue;
        found = true;
        if (!sameCheckpoint(cp, h)) return broken({ seq: h.seq, reason: R.checkpointRewritten });
      }
      if (!found) return broken({ seq: h.seq, reason: R.checkpointDeleted });
    }
    rep.digests = x.digests.length;
    rep.digested_through_seq = String(held.reduce((m, c) => (c.seq > m ? c.seq : m), 0n));
  }
  // 4. The anchor.
  const zero = '0'.repeat(64);
  if ((anchorSeq === 0n && anchorHash !== zero) || (anchorSeq > 0n && !cps.some((c) => c.seq === anchorSeq && c.head === anchorHash))) {
    return broken({ seq: anchorSeq, reason: R.anchorUnpinned });
  }
  // 5. No checkpoint but a retention one beyond the last link.
  let lastCp = 0n;
  for (const cp of cps) {
    if (cp.seq > last && cp.kind !== 'prune') return broken({ seq: cp.seq, reason: R.tooFar });
    if (cp.seq <= last && cp.seq > lastCp) lastCp = cp.seq;
  }
  rep.unsigned_tail = String(last - (lastCp > anchorSeq ? lastCp : anchorSeq));
  rep.from_seq = String(anchorSeq + 1n);
  rep.to_seq = String(last);

  // 6. Links and records.
  const byKey = new Map();
  const byID = new Map();
  x.records.forEach((r, i) => {
    const k = JSON.stringify([r.tenant, r.id]);
    if (!byKey.has(k)) byKey.set(k, i);
    if (!byID.has(r.id)) byID.set(r.id, i);
  });
  const onChain = new Set();
  const prunes = cps.filter((c) => c.kind === 'prune');
  const prunedBy = (l) => prunes.some((c) => c.seq >= l.seq && LEVELS[l.level - 1] in c.cutoffs && l.timestamp < c.cutoffs[LEVELS[l.level - 1]]);
  const tenant = x.manifest.tenant;
  const idBytes = (s) => Buffer.from(s, 'utf8');
  let prev = { seq: anchorSeq, hash: anchorHash };
  for (const l of x.links) {
    let ri = byKey.get(JSON.stringify([tenant, l.recordID]));
    if (ri === undefined) ri = byID.get(l.recordID);
    if (ri !== undefined) onChain.add(ri);
    if (l.seq === prev.seq && prev.seq !== 0n) return broken({ seq: l.seq, record_id: l.recordID, reason: R.linkDuplicated });
    if (l.seq !== prev.seq + 1n) return broken({ seq: prev.seq + 1n, reason: R.linkMissing });
    const id = idBytes(l.recordID);
    const buf = Buffer.alloc(32 + 8 + 8 + 1 + 4 + id.length + 32);
    let o = 0;
    o += Buffer.from(prev.hash, 'hex').copy(buf, o);
    buf.writeBigUInt64BE(l.seq, o); o += 8;
    buf.writeBigInt64BE(l.timestamp, o); o += 8;
    buf.writeUInt8(l.level, o); o += 1;
    buf.writeUInt32BE(id.length, o); o += 4;
    o += id.copy(buf, o);
    Buffer.from(l.recordHash, 'hex').copy(buf, o);
    if (hex(sha256(buf)) !== l.hash) return broken({ seq: l.seq, record_id: l.recordID, reason: R.linkAltered });
    rep.records_checked++;
    const rec = ri === undefined ? undefined : x.records[ri];
    if (rec === undefined || rec.tenant !== tenant) {
      if (prunedBy(l)) { rep.records_pruned++; }
      else if (rec === undefined) return broken({ seq: l.seq, record_id: l.recordID, reason: R.recordDeleted });
      else return broken({ seq: l.seq, record_id: l.recordID, reason: R.tenantChange });
    } else if (hex(sha256(rec.bytes)) !== l.recordHash) {
      return broken({ seq: l.seq, record_id: l.recordID, reason: R.recordAltered });
    } else if (!isCanonical(rec.bytes)) {
      return broken({ seq: l.seq, record_id: l.recordID, reason: R.notCanonical });
    }
    for (const cp of cps) {
      if (cp.seq !== l.seq) continue;
      if (cp.head !== l.hash) return broken({ seq: l.seq, record_id: l.recordID, reason: R.chainRewritten });
      rep.checkpoints_checked++;
    }
    prev = l;
  }
  // 7. Every record line is a link's record.
  for (let i = 0; i < x.records.length; i++) {
    if (!onChain.has(i)) return broken({ record_id: x.records[i].id, reason: R.unchained });
  }
  return rep;
}

function main(argv) {
  const keyFiles = [];
  let asJSON = false;
  const pos = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--public-key') { if (i + 1 >= argv.length) return usage('--public-key needs a file'); keyFiles.push(argv[++i]); }
    else if (argv[i] === '--json') asJSON = true;
    else if (argv[i] === '-h' || argv[i] === '--help') { process.stdout.write(USAGE); return 0; }
    else if (argv[i].startsWith('-')) return usage(`unknown flag ${argv[i]}`);
    else pos.push(argv[i]);
  }
  if (pos.length !== 1) return usage('expected one export directory');
  let rep;
  try {
    const x = readExport(pos[0]);
    let keys = x.keys;
    if (keyFiles.length > 0) {
      keys = new Map();
      for (const f of keyFiles) { const { id, key } = loadKey(readFileSync(f), undefined, f); keys.set(id, key); }
    } else if (!asJSON) {
      process.stderr.write('verify.mjs: no --public-key: trusting the keys the export carries (keys.json); get them from the signer to be sure\n');
    }
    rep = verifyExport(x, keys);
  } catch (e) {
    process.stderr.write(`verify.mjs: ${e instanceof Unreadable ? 'cannot read the export: ' : ''}${e.message}\n`);
    return 1;
  }
  if (asJSON) {
    process.stdout.write(JSON.stringify(rep) + '\n');
  } else {
    process.stdout.write(`${rep.tenant} ${rep.ok ? 'OK' : 'BROKEN'}: ${rep.records_checked} records checked (seq ${rep.from_seq}-${rep.to_seq}, ${rep.records_pruned} pruned by retention), ${rep.checkpoints_checked} checkpoints, signatures ${rep.signatures_checked ? 'checked' : 'NOT checked'}, ${rep.unsigned_tail} after the last checkpoint\n`);
    if (rep.first_broken) process.stdout.write(`  first break: seq ${rep.first_broken.seq}${rep.first_broken.record_id ? ` (record ${rep.first_broken.record_id})` : ''}: ${rep.first_broken.reason}\n`);
    if (rep.unknown_keys.length > 0) process.stdout.write(`  signed by keys not given: ${rep.unknown_keys.join(', ')}\n`);
  }
  if (!rep.ok) return 3;
  return rep.unknown_keys.length > 0 ? 4 : 0;
}

const USAGE = 'usage: node verify.mjs [--public-key PEM]... [--json] EXPORT_DIR\n';
function usage(msg) { process.stderr.write(`verify.mjs: ${msg}\n${USAGE}`); return 2; }

process.exitCode = main(process.argv.slice(2));
