// A WebSocket server and client with the npm package ws, for the upgrade
// capture of make-edge-fixtures.sh: one plain GET, then an upgrade whose
// frames carry text that looks like HTTP in both directions (the server's
// echo is unmasked on the wire). Exits when the client has its echoes.
//   node ws-edges.js      (ws must be resolvable: NODE_PATH)
const http = require("http");
const { WebSocketServer, WebSocket } = require("ws");

const server = http.createServer((req, res) => {
  res.setHeader("Content-Type", "text/plain");
  res.end("not a websocket\n");
});
const wss = new WebSocketServer({ server });
wss.on("connection", (ws) => ws.on("message", (m) => ws.send(m.toString())));
server.listen(0, "127.0.0.1", () => {
  const port = server.address().port;
  console.log(port);
  // The capture starts on a line from stdin.
  process.stdin.once("data", () => run(port));
});

function run(port) {
  http.get({ host: "127.0.0.1", port, path: "/plain" }, (res) => {
    res.resume();
    res.on("end", () => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/chat`);
      const msgs = [
        "GET /inside-the-tunnel HTTP/1.1\r\nHost: x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        "hello",
      ];
      let got = 0;
      ws.on("open", () => msgs.forEach((m) => ws.send(m)));
      ws.on("message", () => {
        if (++got === msgs.length) ws.close();
      });
      ws.on("close", () => {
        console.error(`ws-edges: ${got} echoes`);
        setTimeout(() => process.exit(0), 200);
      });
    });
  });
}
