// Peer for measurement 1: the official TypeScript SDK client (@modelcontextprotocol/sdk), minimal: connect with a
// stored token (an OAuthClientProvider reading a JSON file), list the tools, call one, print the result.
//   node ts_client.mjs URL TOKEN_FILE TOOL ARGS_JSON
// TOKEN_FILE: {"tokens": {...OAuthTokens...}, "client_info": {...OAuthClientInformation...}}
import { readFileSync, writeFileSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const [url, tokenFile, tool, args] = process.argv.slice(2);
const doc = JSON.parse(readFileSync(tokenFile, 'utf8'));

const authProvider = {
  get redirectUrl() { return 'http://127.0.0.1:1/callback'; },
  get clientMetadata() { return { client_name: 'bench', redirect_uris: ['http://127.0.0.1:1/callback'] }; },
  clientInformation: () => doc.client_info,
  saveClientInformation: (info) => { doc.client_info = info; },
  tokens: () => doc.tokens,
  saveTokens: (tokens) => { doc.tokens = tokens; writeFileSync(tokenFile, JSON.stringify(doc)); },
  redirectToAuthorization: () => { throw new Error('stored token refused: no sign-in in this benchmark'); },
  saveCodeVerifier: () => {},
  codeVerifier: () => { throw new Error('no code verifier'); },
};

const client = new Client({ name: 'bench', version: '1.0.0' });
const transport = new StreamableHTTPClientTransport(new URL(url), { authProvider });
await client.connect(transport);
const tools = await client.listTools();
const result = await client.callTool({ name: tool, arguments: JSON.parse(args) });
console.log(tools.tools.length, 'tools;', result.content?.[0]?.text);
await transport.terminateSession().catch(() => {});
await client.close();
