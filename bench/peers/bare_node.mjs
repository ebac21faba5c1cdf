// Ceiling for measurement 4: a bare Node HTTP server answering a fixed JSON-RPC result (no MCP, no auth).
//   node bare_node.mjs PORT
import { createServer } from 'node:http';
const body = JSON.stringify({ jsonrpc: '2.0', id: 1, result: { content: [{ type: 'text', text: 'Paris: 18 C, light rain' }], isError: false } });
createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
}).listen(Number(process.argv[2]), '127.0.0.1');
