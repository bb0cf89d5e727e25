// What analyze computes, computed by DuckDB on the same results file.
//   node duckdb-stats.mjs RESULTS.parquet THREADS [five|full]
// five: per method+name count, avg, exact p50/p95/p99 (quantile_disc), one
//       JSON line per method+name (compared with analyze's figures).
// full: the same work analyze does (one scan of the file per query, which
//       measured faster than materializing the columns once): per name and in total the counts,
//       failures, 429s, bytes, min/avg/max and 11 latency and 11 TTFB
//       percentiles; per 1 s window the counts, users and 11 percentiles;
//       failures by error.
import { DuckDBInstance } from '@duckdb/node-api';

const [file, threads, mode = 'five'] = process.argv.slice(2);
const db = await DuckDBInstance.create(':memory:', { threads: String(threads) });
const c = await db.connect();
const src = `read_parquet('${file.replaceAll("'", "''")}')`;
const run = async (q) => (await c.runAndReadAll(q)).getRowObjectsJson();
if (mode === 'five') {
  const rows = await run(`
    SELECT method, name, count(*) AS n, avg(latency_ns) / 1e6 AS avg_ms,
           quantile_disc(latency_ns, [0.5, 0.95, 0.99]) AS q
    FROM ${src} GROUP BY ALL ORDER BY name, method`);
  for (const row of rows) {
    console.log(JSON.stringify({ method: row.method, name: row.name, n: Number(row.n), avg_ms: Number(row.avg_ms),
      p50_ms: Number(row.q[0]) / 1e6, p95_ms: Number(row.q[1]) / 1e6, p99_ms: Number(row.q[2]) / 1e6 }));
  }
} else {
  const qs = '[0.5, 0.66, 0.75, 0.8, 0.9, 0.95, 0.98, 0.99, 0.999, 0.9999, 1.0]';
  await run(`CREATE TEMP VIEW r AS SELECT method, name, latency_ns, ttfb_ns, status, error, resp_size, users,
               sent FROM ${src}`);
  const stats = `count(*) AS n, count(*) FILTER (WHERE status >= 400 OR error <> '') AS failures,
    count(*) FILTER (WHERE status = 429) AS limited, count(*) FILTER (WHERE status >= 500 OR error <> '') AS unavailable,
    sum(resp_size) AS bytes, min(latency_ns), avg(latency_ns), max(latency_ns),
    quantile_disc(latency_ns, ${qs}) AS lat, quantile_disc(ttfb_ns, ${qs}) FILTER (WHERE ttfb_ns > 0) AS ttfb`;
  const names = await run(`SELECT method, name, ${stats} FROM r GROUP BY ALL`);
  const total = await run(`SELECT ${stats} FROM r`);
  const windows = await run(`SELECT time_bucket(INTERVAL 1 second, sent) AS w, count(*),
    count(*) FILTER (WHERE status >= 400 OR error <> ''), max(users), sum(resp_size), quantile_disc(latency_ns, ${qs})
    FROM r GROUP BY ALL`);
  const fails = await run(`SELECT method, name, CASE WHEN error <> '' THEN error ELSE 'HTTP ' || status END AS e, count(*)
    FROM r WHERE status >= 400 OR error <> '' GROUP BY ALL`);
  console.log(JSON.stringify({ names: names.length, total: Number(total[0].n), windows: windows.length, failures: fails.length }));
}
