// Reads a replaykit trace with DuckDB (@duckdb/node-api) exactly as a user
// would, and checks what it sees against what record wrote.
//   node check.mjs TRACE.parquet EXPECTED_ROWS
import { DuckDBInstance } from '@duckdb/node-api';

const [file, expectedRows] = process.argv.slice(2);
const db = await DuckDBInstance.create(':memory:');
const c = await db.connect();
const rows = async (q) => (await c.runAndReadAll(q)).getRowObjectsJson();
const src = `read_parquet('${file.replaceAll("'", "''")}')`;
let failed = 0;
const check = (ok, what) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failed++;
};

const types = Object.fromEntries((await rows(`DESCRIBE SELECT * FROM ${src}`)).map((r) => [r.column_name, r.column_type]));
const want = {
  id: 'BIGINT', ts: 'TIMESTAMP WITH TIME ZONE', session: 'VARCHAR', conn: 'BIGINT', client: 'VARCHAR',
  server: 'VARCHAR', method: 'VARCHAR', host: 'VARCHAR', path: 'VARCHAR', route: 'VARCHAR', proto: 'VARCHAR',
  req_headers: 'STRUCT("name" VARCHAR, "value" VARCHAR)[]', resp_headers: 'STRUCT("name" VARCHAR, "value" VARCHAR)[]',
  req_body: 'BLOB', req_body_truncated: 'BOOLEAN', req_size: 'BIGINT', resp_size: 'BIGINT', status: 'INTEGER',
  ttfb_ns: 'BIGINT', duration_ns: 'BIGINT', kind: 'VARCHAR',
  links: 'STRUCT("at" VARCHAR, back BIGINT, src VARCHAR)[]',
  resp_trailers: 'STRUCT("name" VARCHAR, "value" VARCHAR)[]', grpc_status: 'INTEGER', grpc_message: 'VARCHAR',
  req_msgs: 'BIGINT', resp_msgs: 'BIGINT',
};
for (const [col, t] of Object.entries(want)) check(types[col] === t, `column ${col} is ${t} (got ${types[col]})`);

const [n] = await rows(`SELECT count(*) AS n, count(DISTINCT session) AS sessions, min(ts) AS first, max(ts) AS last FROM ${src}`);
check(Number(n.n) === Number(expectedRows), `${n.n} rows, ${n.sessions} sessions, ${n.first} .. ${n.last}`);

console.log('\nper route (what analyze will key on):');
console.table(await rows(`SELECT route, method, count(*) AS n, round(avg(duration_ns) / 1e6, 2) AS avg_ms,
  max(status) AS max_status FROM ${src} GROUP BY ALL ORDER BY n DESC, route LIMIT 8`));

const secrets = await rows(`SELECT count(*) AS n FROM (SELECT unnest(req_headers) AS h FROM ${src})
  WHERE lower(h.name) IN ('authorization', 'cookie', 'x-api-key') AND NOT regexp_full_match(h.value, '([A-Za-z0-9._~+-]+ )?redacted:[0-9a-f]{12}')`);
check(Number(secrets[0].n) === 0, 'every credential header value is redacted');

const bodies = await rows(`SELECT count(*) AS n FROM ${src} WHERE req_size > 0 AND req_body IS NULL`);
check(Number(bodies[0].n) === 0, 'every request with a body has req_body');

// The links of a trace that has some (the sample trace): every source is
// an earlier row of the file, and no link holds a value.
if (process.argv[4]) {
  const linked = `read_parquet('${process.argv[4].replaceAll("'", "''")}')`;
  const [l] = await rows(`SELECT count(*) AS n, count(*) FILTER (WHERE id - l.back < 0 OR l.back < 0) AS dangling,
    count(DISTINCT l.src) AS srcs FROM (SELECT id, unnest(links) AS l FROM ${linked})`);
  check(Number(l.n) > 0 && Number(l.dangling) === 0, `${l.n} links in ${process.argv[4]}, ${l.srcs} source positions, each to an earlier row`);
  console.table(await rows(`SELECT method, route, l.at, l.src, count(*) AS n FROM
    (SELECT method, route, unnest(links) AS l FROM ${linked}) GROUP BY ALL ORDER BY n DESC LIMIT 8`));
}

// A gRPC trace (testdata/h2/grpc-python.pcap recorded): statuses and
// message counts as columns, trailers as a list.
if (process.argv[5]) {
  const grpc = `read_parquet('${process.argv[5].replaceAll("'", "''")}')`;
  const calls = await rows(`SELECT route, proto, grpc_status, grpc_message, req_msgs, resp_msgs,
    len(resp_trailers) AS trailers FROM ${grpc} WHERE route <> '/demo.v1.Things/Echo' ORDER BY route`);
  console.table(calls);
  const by = Object.fromEntries(calls.map((r) => [r.route, r]));
  const fail = by['/demo.v1.Things/Fail'], count = by['/demo.v1.Things/Count'];
  check(fail && Number(fail.grpc_status) === 5 && fail.grpc_message.startsWith('no such thing') && fail.proto === 'HTTP/2.0',
    'a failed gRPC call has grpc_status 5 and its message');
  check(count && Number(count.grpc_status) === 0 && Number(count.resp_msgs) === 5 && Number(count.trailers) > 0,
    'a server-streaming call has 5 messages and its trailers');
  const [http] = await rows(`SELECT count(*) AS n FROM ${src} WHERE grpc_status IS NOT NULL OR len(resp_trailers) > 0`);
  check(Number(http.n) === 0, 'HTTP/1.1 rows have no gRPC status and no trailers');
}

process.exit(failed ? 1 : 0);

