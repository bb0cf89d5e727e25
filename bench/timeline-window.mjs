// What a slice of a trace holds, as replay --window picks it: the
// sessions whose first request is FROM..TO seconds after the trace's first
// request, their requests before TO (replay cuts the rest, as a recording
// of the slice would have) and all of them, and the recorded requests a
// minute of the slice holds (fewest and most), on one line of key=value
// pairs.
//   node timeline-window.mjs TRACE.parquet FROM_S TO_S
import { DuckDBInstance } from '@duckdb/node-api';

const [file, from, to] = process.argv.slice(2);
const db = await DuckDBInstance.create(':memory:');
const c = await db.connect();
const src = `read_parquet('${file.replaceAll("'", "''")}')`;
const run = async (q) => (await c.runAndReadAll(q)).getRowObjectsJson();
const [w] = await run(`
  WITH t0 AS (SELECT min(epoch_us(ts)) AS t0 FROM ${src}),
  s AS (SELECT session, min(epoch_us(ts)) AS first, count(*) AS n FROM ${src} GROUP BY session),
  picked AS (SELECT s.* FROM s, t0 WHERE first >= t0 + ${Number(from)} * 1e6 AND first < t0 + ${Number(to)} * 1e6),
  mins AS (SELECT (epoch_us(ts) - t0) // 60000000 AS m, count(*) AS n FROM ${src}, t0
           WHERE session IN (SELECT session FROM picked)
             AND epoch_us(ts) >= t0 + ${Number(from)} * 1e6 AND epoch_us(ts) < t0 + ${Number(to)} * 1e6 GROUP BY m)
  SELECT (SELECT strftime(make_timestamp(t0), '%Y-%m-%dT%H:%M:%SZ') FROM t0) AS trace_start,
         (SELECT count(*) FROM picked) AS sessions, (SELECT sum(n) FROM mins) AS requests,
         (SELECT sum(n) FROM picked) AS requests_all,
         (SELECT min(n) FROM mins) AS minute_min, (SELECT max(n) FROM mins) AS minute_max`);
console.log(Object.entries(w).map(([k, v]) => `window_${k}=${v}`).join(' '));
