// An independent LSP client for `igos lsp`: Microsoft's vscode-languageserver-protocol
// (the JSON-RPC layer VS Code's language client is built on), over the server's real stdio.
// It plays a scenario the way an editor would and prints what the server answered, as one
// JSON object, for tests/lsp.rs to judge.
//
// usage: node client.mjs IGOS WORKSPACE SCENARIO [-- server arguments...]
// The client library is found through LSP_CLIENT_MODULES (a node_modules directory).

import { createRequire } from 'node:module';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const require = createRequire(join(process.env.LSP_CLIENT_MODULES, 'x.js'));
const rpc = require('vscode-languageserver-protocol/node');

const [igos, workspace, scenario, ...rest] = process.argv.slice(2);
const serverArgs = rest[0] === '--' ? rest.slice(1) : rest;

const server = spawn(igos, ['lsp', ...serverArgs], { cwd: workspace, stdio: ['pipe', 'pipe', 'inherit'] });
const conn = rpc.createProtocolConnection(new rpc.StreamMessageReader(server.stdout), new rpc.StreamMessageWriter(server.stdin));

// Diagnostics as published, by URI, and who is waiting for the next ones.
const diagnostics = new Map();
const waiting = [];
conn.onNotification('textDocument/publishDiagnostics', (p) => {
  diagnostics.set(p.uri, p);
  for (const w of waiting.splice(0)) w();
});
const messages = [];
conn.onNotification('window/showMessage', (p) => messages.push(p.message));
conn.onRequest('client/registerCapability', () => null);
conn.listen();

const uri = (rel) => pathToFileURL(join(workspace, rel)).href;
const docs = new Map();

/** Wait until `pred` holds for the diagnostics of `rel` (published after `since`). */
async function diagnosticsOf(rel, pred = () => true, ms = 60000) {
  const u = uri(rel);
  const deadline = Date.now() + ms;
  for (;;) {
    const d = diagnostics.get(u);
    if (d && pred(d)) return d;
    if (Date.now() > deadline) throw new Error(`no diagnostics for ${rel} within ${ms} ms`);
    await new Promise((r) => { waiting.push(r); setTimeout(r, 200); });
  }
}

/** The UTF-16 position of the `n`th occurrence of `needle` in an open document (plus `delta` characters). */
function pos(rel, needle, delta = 0, n = 0) {
  const text = docs.get(rel).text;
  let i = -1;
  for (let k = 0; k <= n; k++) {
    i = text.indexOf(needle, i + 1);
    if (i < 0) throw new Error(`${needle} not in ${rel}`);
  }
  i += delta;
  const before = text.slice(0, i);
  const line = before.split('\n').length - 1;
  return { line, character: i - (before.lastIndexOf('\n') + 1) };
}

function open(rel, text) {
  text ??= readFileSync(join(workspace, rel), 'utf8');
  docs.set(rel, { text, version: 1 });
  conn.sendNotification('textDocument/didOpen', { textDocument: { uri: uri(rel), languageId: 'igos-policy', version: 1, text } });
}

/** Replace the text between two positions, as an editor's incremental change. */
function change(rel, start, end, newText) {
  const d = docs.get(rel);
  const off = (p) => d.text.split('\n').slice(0, p.line).reduce((a, l) => a + l.length + 1, 0) + p.character;
  d.text = d.text.slice(0, off(start)) + newText + d.text.slice(off(end));
  d.version += 1;
  conn.sendNotification('textDocument/didChange', {
    textDocument: { uri: uri(rel), version: d.version },
    contentChanges: [{ range: { start, end }, text: newText }],
  });
  return d.version;
}

const req = (method, params) => conn.sendRequest(method, params);
const at = (rel, needle, delta = 0, n = 0) => ({ textDocument: { uri: uri(rel) }, position: pos(rel, needle, delta, n) });
const brief = (d) => ({ code: d.code, line: d.range.start.line, character: d.range.start.character, severity: d.severity, message: d.message.split('\n')[0], related: (d.relatedInformation || []).length });

async function initialize() {
  const t = Date.now();
  const init = await req('initialize', {
    processId: process.pid,
    rootUri: pathToFileURL(workspace).href,
    workspaceFolders: [{ uri: pathToFileURL(workspace).href, name: 'igos' }],
    capabilities: {
      workspace: { didChangeWatchedFiles: { dynamicRegistration: true } },
      textDocument: { publishDiagnostics: { relatedInformation: true } },
    },
  });
  conn.sendNotification('initialized', {});
  return { capabilities: Object.keys(init.capabilities).sort(), server: init.serverInfo, ms: Date.now() - t };
}

async function embedded() {
  const out = { init: await initialize() };
  open('rules/tiers.pol');
  const d = await diagnosticsOf('rules/tiers.pol');
  out.tiers_diagnostics = d.diagnostics.map(brief);
  out.tiers_version = d.version;
  // Hover: a set entry (its package's natural tier and why), a check, a field, a function.
  out.hover_entry = (await req('textDocument/hover', at('rules/tiers.pol', '\n  htop\n', 3)))?.contents.value;
  open('rules/gates.pol');
  await diagnosticsOf('rules/gates.pol');
  out.hover_check = (await req('textDocument/hover', at('rules/gates.pol', 'check tier-move', 7)))?.contents.value;
  out.hover_field = (await req('textDocument/hover', at('rules/gates.pol', 'p.pending and', 3)))?.contents.value;
  out.hover_function = (await req('textDocument/hover', at('rules/gates.pol', 'count(builders_of', 8)))?.contents.value;
  // Definition: a set used in the classification, a package named in a set, a check in a gate.
  const def = async (rel, needle, delta) => {
    const r = await req('textDocument/definition', at(rel, needle, delta));
    const l = Array.isArray(r) ? r[0] : r;
    return l && { uri: l.uri.replace(pathToFileURL(workspace).href + '/', ''), line: l.range.start.line };
  };
  out.def_set = await def('rules/tiers.pol', 'if name in base_cli\n', 11);
  out.def_package = await def('rules/tiers.pol', '\n  htop\n', 3);
  out.def_check = await def('rules/gates.pol', '  tier-move\n', 3);
  open('rules/builders.pol');
  out.def_phase = await def('rules/builders.pol', 'phase core-extra', 7);
  out.def_list = await def('rules/builders.pol', '"chroot-build-base.list"', 3);
  // References of a set: its declaration and its use in the classification.
  const refs = await req('textDocument/references', { ...at('rules/tiers.pol', 'set base_cli {', 5), context: { includeDeclaration: true } });
  out.refs_set = refs.map((l) => `${l.uri.split('/').pop()}:${l.range.start.line}`);
  // Completion: fields after `p.` in a check being written, package names in a set, checks in a gate.
  const where = pos('rules/gates.pol', '  where not p.pending and p.parsed\n', 0);
  change('rules/gates.pol', where, where, '  where p.\n');
  const comp = await req('textDocument/completion', { textDocument: { uri: uri('rules/gates.pol') }, position: { line: where.line, character: 10 } });
  out.complete_field = comp.items.map((i) => i.label);
  out.complete_field_detail = comp.items.find((i) => i.label === 'tier')?.detail;
  const typed = change('rules/gates.pol', { line: where.line, character: 10 }, { line: where.line, character: 10 }, 'tier');
  const broken = await diagnosticsOf('rules/gates.pol', (p) => p.version === typed);
  out.while_typing = broken.diagnostics.map(brief).filter((x) => x.severity === 1);
  const entry = pos('rules/tiers.pol', '\n  htop\n', 1);
  change('rules/tiers.pol', entry, entry, '  ht\n');
  const pkgs = await req('textDocument/completion', { textDocument: { uri: uri('rules/tiers.pol') }, position: { line: entry.line, character: 4 } });
  out.complete_package = pkgs.items.map((i) => i.label);
  change('rules/tiers.pol', entry, { line: entry.line + 1, character: 0 }, '');
  const gateLine = pos('rules/gates.pol', '  tier-move\n', 0);
  change('rules/gates.pol', gateLine, gateLine, '  tier\n');
  const checks = await req('textDocument/completion', { textDocument: { uri: uri('rules/gates.pol') }, position: { line: gateLine.line, character: 6 } });
  out.complete_check = checks.items.map((i) => i.label).filter((l) => l.startsWith('tier'));
  change('rules/gates.pol', gateLine, { line: gateLine.line + 1, character: 0 }, '');
  change('rules/gates.pol', where, { line: where.line + 1, character: 0 }, '');
  // An error as you type: an unknown relation, with its range and did-you-mean.
  const rel = pos('rules/gates.pol', 'for b in builders', 9);
  const v = change('rules/gates.pol', rel, { line: rel.line, character: rel.character + 8 }, 'bilders');
  const err = await diagnosticsOf('rules/gates.pol', (p) => p.version === v);
  out.error_diagnostics = err.diagnostics.map(brief).filter((x) => x.severity === 1);
  const v2 = change('rules/gates.pol', rel, { line: rel.line, character: rel.character + 7 }, 'builders');
  await diagnosticsOf('rules/gates.pol', (p) => p.version === v2);
  // Rename a set across files; rename a check (gate and waivers follow).
  const ren = await req('textDocument/rename', { ...at('rules/tiers.pol', 'set base_cli {', 5), newName: 'base_tools' });
  out.rename_set = Object.fromEntries(Object.entries(ren.changes).map(([u, e]) => [u.split('/').pop(), e.length]));
  const renc = await req('textDocument/rename', { ...at('rules/gates.pol', 'check orphan', 7), newName: 'unreached' });
  out.rename_check = Object.fromEntries(Object.entries(renc.changes).map(([u, e]) => [u.split('/').pop(), e.length]));
  open('rules/recipes.pol');
  const renx = await req('textDocument/rename', { ...at('rules/recipes.pol', 'check unknown-key', 7), newName: 'stray-key' });
  out.rename_across = Object.fromEntries(Object.entries(renx.changes).map(([u, e]) => [u.split('/').pop(), e.length]));
  out.rename_taken = await req('textDocument/rename', { ...at('rules/recipes.pol', 'check unknown-key', 7), newName: 'missing-field' }).then(() => 'accepted', (e) => e.message);
  out.rename_refused = await req('textDocument/rename', { ...at('rules/gates.pol', 'for p in packages', 4), newName: 'q' }).then(() => 'accepted', (e) => e.message);
  // Formatting: a badly laid out file comes back in igos fmt's layout.
  open('rules/waivers.pol');
  await diagnosticsOf('rules/waivers.pol');
  const wv = change('rules/waivers.pol', pos('rules/waivers.pol', 'policy 1'), pos('rules/waivers.pol', 'policy 1', 8), 'policy    1   ');
  out.format = await req('textDocument/formatting', { textDocument: { uri: uri('rules/waivers.pol') }, options: { tabSize: 2, insertSpaces: true } });
  out.format_version = wv;
  // Symbols, folding, semantic tokens, code lens, inlay hints, code actions.
  const syms = await req('textDocument/documentSymbol', { textDocument: { uri: uri('rules/gates.pol') } });
  out.symbols = syms.length;
  out.symbol_tier_move = syms.find((s) => s.name === 'tier-move')?.kind;
  out.workspace_symbols = (await req('workspace/symbol', { query: 'base_cli' })).map((s) => s.name);
  out.folds = (await req('textDocument/foldingRange', { textDocument: { uri: uri('rules/gates.pol') } })).length;
  const toks = await req('textDocument/semanticTokens/full', { textDocument: { uri: uri('rules/gates.pol') } });
  out.semantic_tokens = toks.data.length / 5;
  const lenses = await req('textDocument/codeLens', { textDocument: { uri: uri('rules/gates.pol') } });
  out.code_lens = Object.fromEntries(lenses.map((l) => [l.command.arguments[0], l.command.title]).filter(([c]) => ['orphan', 'tier-move', 'duplicate-name'].includes(c)));
  const hints = await req('textDocument/inlayHint', { textDocument: { uri: uri('rules/tiers.pol') }, range: { start: { line: 0, character: 0 }, end: { line: 99999, character: 0 } } });
  out.inlay_hints = hints.length;
  out.inlay_example = hints[0] && { line: hints[0].position.line, label: hints[0].label };
  const shadowed = (await diagnosticsOf('rules/tiers.pol')).diagnostics.find((x) => x.code === 'shadowed-entry');
  const acts = await req('textDocument/codeAction', { textDocument: { uri: uri('rules/tiers.pol') }, range: shadowed.range, context: { diagnostics: [shadowed] } });
  out.code_actions = acts.map((a) => a.title);
  out.waiver_edit = acts.find((a) => a.title.startsWith('Waive'))?.edit;
  out.findings_command = (await req('workspace/executeCommand', { command: 'igos.findings', arguments: ['shadowed-entry'] })).length;
  out.messages = messages;
  return out;
}

async function corpus() {
  const out = { init: await initialize() };
  open('rules/tiers.pol');
  const d = await diagnosticsOf('rules/tiers.pol');
  out.tier_moves = d.diagnostics.filter((x) => x.code === 'tier-move').map(brief);
  out.tiers_all = d.diagnostics.map(brief);
  out.hover_bat = (await req('textDocument/hover', at('rules/tiers.pol', '\n  bat\n', 3)))?.contents.value;
  const line = pos('rules/tiers.pol', '\n  bat\n', 1);
  const acts = await req('textDocument/codeAction', { textDocument: { uri: uri('rules/tiers.pol') }, range: { start: line, end: line }, context: { diagnostics: d.diagnostics.filter((x) => x.range.start.line === line.line) } });
  out.bat_actions = acts.map((a) => a.title);
  const move = acts.find((a) => a.title.startsWith('Move'));
  out.bat_move_edit = move && Object.fromEntries(Object.entries(move.edit.changes).map(([u, e]) => [u.split('/').pop(), e.map((x) => ({ line: x.range.start.line, endLine: x.range.end.line, text: x.newText }))]));
  open('rules/gates.pol');
  await diagnosticsOf('rules/gates.pol');
  const gates = diagnostics.get(uri('rules/gates.pol')).diagnostics;
  out.gate_summaries = gates.filter((x) => ['orphan', 'audit-missing', 'tier-unclear'].includes(x.code)).map(brief);
  const lenses = await req('textDocument/codeLens', { textDocument: { uri: uri('rules/gates.pol') } });
  out.code_lens = Object.fromEntries(lenses.map((l) => [l.command.arguments[0], l.command.title]).filter(([c]) => ['orphan', 'tier-move', 'audit-missing'].includes(c)));
  const orphan = gates.find((x) => x.code === 'orphan');
  if (orphan) {
    const oa = await req('textDocument/codeAction', { textDocument: { uri: uri('rules/gates.pol') }, range: orphan.range, context: { diagnostics: [orphan] } });
    out.orphan_actions = oa.map((a) => a.title);
  }
  // Latency as an editor sees it: an edit to a set, until its diagnostics are back.
  const times = [];
  for (let i = 0; i < 5; i++) {
    const p = pos('rules/tiers.pol', '\n  bat\n', 1);
    const t = Date.now();
    const v = change('rules/tiers.pol', p, p, `  # edit ${i}\n`);
    await diagnosticsOf('rules/tiers.pol', (x) => x.version === v);
    times.push(Date.now() - t);
  }
  out.edit_to_diagnostics_ms = times;
  out.messages = messages;
  return out;
}

// The tree changes on disk (a recipe's tier edited outside the editor): after the
// client's didChangeWatchedFiles the server reloads the facts and the finding appears.
async function reload() {
  const out = { init: await initialize() };
  open('rules/tiers.pol');
  const before = await diagnosticsOf('rules/tiers.pol');
  out.before = before.diagnostics.filter((x) => x.code === 'tier-move').map(brief);
  const recipe = join(workspace, 'packages/base/bat/package.yml');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(recipe, readFileSync(recipe, 'utf8').replace('tier: base', 'tier: extra'));
  diagnostics.delete(uri('rules/tiers.pol'));
  conn.sendNotification('workspace/didChangeWatchedFiles', { changes: [{ uri: pathToFileURL(recipe).href, type: 2 }] });
  // Wait for the reloaded finding itself: a publish still on its way from the first
  // analysis (the tree's findings follow the rule errors) may arrive after the delete above.
  const after = await diagnosticsOf('rules/tiers.pol', (d) => d.diagnostics.some((x) => x.code === 'tier-move'), 60000).catch(() => diagnostics.get(uri('rules/tiers.pol')) || { diagnostics: [] });
  out.after = after.diagnostics.filter((x) => x.code === 'tier-move').map(brief);
  return out;
}

async function main() {
  const scenarios = { embedded, corpus, reload };
  let result;
  try {
    result = await scenarios[scenario]();
    await req('shutdown');
    conn.sendNotification('exit');
  } catch (e) {
    result = { error: String(e && e.stack || e) };
  }
  const code = await new Promise((r) => { server.on('exit', (c) => r(c)); setTimeout(() => r('still running'), 5000); });
  result.exit_code = code;
  // Exit once the output is written: a pipe's writes are asynchronous.
  process.stdout.write(JSON.stringify(result, null, 1) + '\n', () => process.exit(0));
}

main();
