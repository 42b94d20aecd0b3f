#!/usr/bin/env node
// infra-lint: facet's own rules for its Bicep templates, checked on the
// tree-sitter-bicep syntax tree (never by matching text).
//
//   node scripts/infra-lint.mjs [--config-vars FILE] [--containers FILE] PATH...
//
// PATH is a .bicep file or a folder (searched recursively for *.bicep;
// .bicepparam files are skipped: tree-sitter-bicep 1.1.0 does not parse
// them). Prints `file:line:col: rule-id: message` per violation, exits 1 if
// there is any, 2 on a usage or set-up error, 0 otherwise.
//
// The parser is web-tree-sitter + tree-sitter-bicep from
// .cache/tools/bicep-lint/node_modules (installed by `make setup` from
// ../shared/tools/bicep-lint), or from $FACET_BICEP_LINT_DIR/node_modules.
//
// Rules (resource types and property names compare case-insensitively, as
// in ARM). "Deployed" resources are those not declared `existing`; property
// rules apply only to them. A value "must be X" when, after following `var`
// references, property accesses into object/array literals, both branches
// of a ternary (each must pass) and union() (the last argument holding the
// key wins), it is the literal X, or a param whose @allowed values all
// satisfy the rule (a param's default alone is not enough: main.bicepparam
// can override it). Anything else (another function call, a param without
// @allowed, a resource property) is reported as not checkable: write the
// literal. A required property that is absent is a violation too.
//
//   syntax               tree-sitter parse errors (ERROR / MISSING nodes), as
//                        in bicep-lint.
//   api-version-pinned   every `resource` type is a plain string
//                        'Namespace/type@YYYY-MM-DD'; no '-preview' (or other
//                        suffix) unless in PREVIEW_ALLOWED below; one
//                        apiVersion per type across all files linted together;
//                        and, for the types these rules check, one of the
//                        apiVersions the rule's property paths were checked
//                        against (RULES[type].verified): to move to another,
//                        check the paths in the API reference and add it.
//   eea-location         a location param (a string or array param whose
//                        name matches /location/i, or any param used
//                        directly as a resource `location`, a Cosmos DB
//                        `locationName` or a module param whose name matches
//                        /location/i) has @allowed([...]): non-empty, every
//                        value in EEA_REGIONS, and its literal default (if
//                        any) among them (resourceGroup().location as the
//                        default is fine: @allowed guards it at deployment).
//                        A deployed resource's `location`, and each Cosmos DB
//                        `locations[].locationName`, is a location param, or
//                        `r.location` of a deployed resource r in the same
//                        file whose own location passes, or 'global' for the
//                        types in GLOBAL_LOCATION_TYPES. Nothing else: not
//                        resourceGroup().location, not a literal region.
//                        (Communication Services types are global; the
//                        communication rule checks where their data rests.)
//   storage-security     Microsoft.Storage/storageAccounts:
//                        properties.minimumTlsVersion 'TLS1_2',
//                        properties.supportsHttpsTrafficOnly true,
//                        properties.allowBlobPublicAccess false,
//                        properties.encryption.requireInfrastructureEncryption
//                        true, sku.name not geo-replicated (*GRS, *GZRS: a copy
//                        in the paired region, which may leave the EEA), and
//                        properties.allowSharedKeyAccess false, except on the
//                        Functions host account, marked by the comment line
//                        `// infra-lint: host-storage` (a reason may follow)
//                        directly above its `resource` line (or above its
//                        decorators, no blank line between); at most one
//                        account per run may carry the marker.
//   blob-service         Microsoft.Storage/storageAccounts/blobServices:
//                        properties.isVersioningEnabled false,
//                        properties.deleteRetentionPolicy.enabled false with no
//                        `days`, and properties.changeFeed,
//                        .containerDeleteRetentionPolicy and .restorePolicy
//                        absent or with enabled false (deleted videos must
//                        leave no copy behind).
//   storage-cors         Microsoft.Storage/storageAccounts/blobServices:
//                        each entry of properties.cors.corsRules (absent or
//                        [] is fine) has allowedOrigins of https origins only
//                        (https://host[:port]: no '*', no http://, no path),
//                        allowedMethods only 'PUT' and 'OPTIONS' and 'PUT'
//                        among them, allowedHeaders without '*' and with
//                        x-ms-blob-type, x-ms-blob-content-type, content-type
//                        and x-ms-version (browsers upload with Put Block and
//                        Put Block List, nothing else). An origin may also be
//                        an interpolated string whose literal text is one
//                        ('https://${name}.azurewebsites.net'), a param whose
//                        @allowed values all are, a param guarded on the way
//                        by `startsWith(p, 'https://') && !contains(p, '*')
//                        ? p : fail('...')` (in a ternary or a var: the
//                        deployment fails on anything else), or a module param
//                        without @allowed, followed into every linted file
//                        that deploys the module (a module linted without its
//                        caller cannot pass); a param's literal default must
//                        not be '*' or http://. fileServices, queueServices
//                        and tableServices: no CORS rules at all.
//   functionapp          Microsoft.Web/sites: properties.httpsOnly true,
//                        properties.siteConfig.minTlsVersion '1.2',
//                        properties.siteConfig.ftpsState 'Disabled',
//                        identity.type containing 'SystemAssigned'.
//   cosmos               Microsoft.DocumentDB/databaseAccounts:
//                        properties.disableLocalAuth true,
//                        properties.minimalTlsVersion 'Tls12',
//                        properties.backupPolicy.type 'Continuous',
//                        properties.locations an array of exactly one entry.
//   servicebus           Microsoft.ServiceBus/namespaces:
//                        properties.disableLocalAuth true,
//                        properties.minimumTlsVersion '1.2'.
//   keyvault             Microsoft.KeyVault/vaults:
//                        properties.enableRbacAuthorization true,
//                        properties.enablePurgeProtection true.
//   communication        Microsoft.Communication/communicationServices and
//                        emailServices: properties.dataLocation one of
//                        EEA_DATA_LOCATIONS (they have no region; this is
//                        where their data rests); communicationServices:
//                        properties.disableLocalAuth true (no access keys:
//                        the app sends with its managed identity);
//                        emailServices/domains:
//                        properties.userEngagementTracking 'Disabled' (click
//                        tracking rewrites links, sign-up links among them).
//   no-secrets-in-outputs no `output` whose name, or any identifier, property
//                        or string in its expression (following vars), matches
//                        key|secret|password|connectionString (the word
//                        "keyVault" excepted: a vault's name or URI is not a
//                        secret), or calls a list*() function (listKeys,
//                        listConnectionStrings, listSecrets, listAccountSas...),
//                        or references a @secure() param.
//   app-settings         with --config-vars (the JSON of `facet config-vars`):
//                        for every deployed Microsoft.Web/sites resource, its
//                        app settings are the `name`s of
//                        properties.siteConfig.appSettings (an array literal,
//                        a var, or concat()/union() of those) plus the keys of
//                        properties of every deployed Microsoft.Web/sites/config
//                        resource named 'appsettings' that is nested in it or
//                        has `parent:` it (one whose parent cannot be told,
//                        e.g. an `existing` site, counts for every site).
//                        Every "azure" name must be set on every site, no
//                        "localOnly" name on any; at least one site must exist.
//   cosmos-containers    with --containers (a JSON array of {name,
//                        partitionKey, orderBy}): each container exists as a
//                        deployed .../sqlDatabases/containers resource (a
//                        `for` over a var array literal is expanded) with
//                        properties.resource.id = name, partitionKey.paths =
//                        [partitionKey], and, for each orderBy field f, a
//                        composite index [/f, /id] in one order (both
//                        ascending or both descending).
import { readFileSync, statSync, readdirSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

// EU member states' Azure regions plus Norway's (EEA). Everything else is
// refused, in particular uksouth, ukwest, switzerlandnorth, switzerlandwest.
// Add a region here only when Azure opens it in an EEA country.
const EEA_REGIONS = new Set([
  "westeurope", // Netherlands
  "northeurope", // Ireland
  "francecentral", "francesouth",
  "germanywestcentral", "germanynorth",
  "swedencentral", "swedensouth",
  "polandcentral",
  "italynorth",
  "spaincentral",
  "austriaeast",
  "belgiumcentral",
  "denmarkeast",
  "norwayeast", "norwaywest", // Norway: EEA, not EU
]);

// Preview apiVersions that may be used, as 'type@version' (lower case) →
// why. Add one only when no GA version has what facet needs.
const PREVIEW_ALLOWED = {
  // The newest GA version is 2016-09-01, which has no logs[].categoryGroup
  // ('allLogs', 'audit'); Azure's own reference and samples use this one.
  "microsoft.insights/diagnosticsettings@2021-05-01-preview": "no GA version with categoryGroup",
};

// Types whose location must be 'global' (no regional placement exists).
const GLOBAL_LOCATION_TYPES = new Set([
  "microsoft.network/privatednszones",
  "microsoft.network/privatednszones/virtualnetworklinks",
  "microsoft.insights/actiongroups",
  // Their residency is properties.dataLocation (the communication rule).
  "microsoft.communication/communicationservices",
  "microsoft.communication/emailservices",
  "microsoft.communication/emailservices/domains",
]);

// Communication Services data locations inside the EEA, lower case. The
// service's list (Region availability and data residency) also has
// Switzerland and United Kingdom, which are not in the EEA. 'Europe' keeps
// personal data in the EU Data Boundary.
const EEA_DATA_LOCATIONS = new Set(["europe", "france", "germany", "norway"]);

const HOST_STORAGE_MARKER = /^\/\/\s*infra-lint:\s*host-storage\b/;
const SECRET_WORD = /key|secret|passw(or)?d|connection_?string|connstr/i;
const GEO_SKU = /(^|_)(RA)?G(Z)?RS$/i;

// ---------------------------------------------------------------- set-up

function usage(msg) {
  if (msg) console.error(`infra-lint: ${msg}`);
  console.error("usage: node scripts/infra-lint.mjs [--config-vars FILE] [--containers FILE] PATH...");
  process.exit(2);
}

const args = process.argv.slice(2);
let configVarsFile = null;
let containersFile = null;
const paths = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === "--config-vars" || a === "--containers") {
    if (i + 1 >= args.length) usage(`${a} needs a file`);
    if (a === "--config-vars") configVarsFile = args[++i];
    else containersFile = args[++i];
  } else if (a.startsWith("--config-vars=")) configVarsFile = a.slice(14);
  else if (a.startsWith("--containers=")) containersFile = a.slice(13);
  else if (a === "-h" || a === "--help") usage();
  else if (a.startsWith("-")) usage(`unknown option ${a}`);
  else paths.push(a);
}
if (paths.length === 0) usage("no files");

const files = [];
for (const p of paths) {
  let st;
  try {
    st = statSync(p);
  } catch {
    usage(`${p}: no such file (an unmatched glob?)`);
  }
  if (st.isDirectory()) files.push(...walkBicep(p));
  else if (p.endsWith(".bicepparam")) console.error(`infra-lint: ${p}: skipped (.bicepparam is not parsed)`);
  else files.push(p);
}
if (files.length === 0) usage(`no .bicep files in ${paths.join(" ")}`);

function walkBicep(dir) {
  const out = [];
  for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walkBicep(p));
    else if (e.name.endsWith(".bicep")) out.push(p);
  }
  return out;
}

function readJSON(file, what) {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    usage(`${what} ${file}: ${e.message}`);
  }
}

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const toolDir = process.env.FACET_BICEP_LINT_DIR
  ? resolve(process.env.FACET_BICEP_LINT_DIR)
  : join(repoRoot, ".cache", "tools", "bicep-lint");
if (!existsSync(join(toolDir, "node_modules", "web-tree-sitter"))) {
  console.error(`infra-lint: ${join(toolDir, "node_modules")} has no web-tree-sitter: run \`make setup\` (it installs ../shared/tools/bicep-lint) or set FACET_BICEP_LINT_DIR`);
  process.exit(2);
}
const requireTool = createRequire(join(toolDir, "package.json"));
const { Parser, Language } = requireTool("web-tree-sitter");
await Parser.init();
const bicep = await Language.load(requireTool.resolve("tree-sitter-bicep/tree-sitter-bicep.wasm"));
const parser = new Parser();
parser.setLanguage(bicep);

// ------------------------------------------------------------ reporting

const violations = [];
function report(file, node, rule, msg) {
  const pos = node ? node.startPosition : { row: 0, column: 0 };
  violations.push({ file: file.path, idx: file.idx, line: pos.row + 1, col: pos.column + 1, rule, msg });
}
const short = (node, n = 60) => {
  const t = node.text.replace(/\s+/g, " ");
  return t.length > n ? t.slice(0, n - 3) + "..." : t;
};

// ---------------------------------------------------------- tree helpers

// named children other than comments
const kids = n => n.namedChildren.filter(c => c.type !== "comment");

// The decorators of a declaration: the `decorators` sibling just before it
// (comments may sit between). Returns [{name, args: [node], node}].
function decoratorsOf(decl) {
  let p = decl.previousNamedSibling;
  while (p && p.type === "comment") p = p.previousNamedSibling;
  if (!p || p.type !== "decorators") return [];
  return kids(p).filter(d => d.type === "decorator").map(d => {
    const call = kids(d)[0];
    let name = "";
    let argNodes = [];
    if (call && call.type === "call_expression") {
      const fn = kids(call)[0];
      if (fn.type === "identifier") name = fn.text;
      else if (fn.type === "member_expression" && kids(fn)[0]?.text === "sys") name = kids(fn).at(-1).text;
      const argList = kids(call).find(c => c.type === "arguments");
      argNodes = argList ? kids(argList) : [];
    } else if (call) name = call.text;
    return { name, args: argNodes, node: d };
  });
}

// The comment lines directly above a declaration (and its decorators),
// nearest last; they must touch (no blank line) the thing below them.
function commentsAbove(decl) {
  const anchor = decl.parent && decl.parent.type === "object_property" ? decl.parent : decl;
  const out = [];
  let below = anchor;
  let p = anchor.previousNamedSibling;
  while (p && (p.type === "comment" || p.type === "decorators") && p.endPosition.row >= below.startPosition.row - 1) {
    if (p.type === "comment") out.unshift(p);
    below = p;
    p = p.previousNamedSibling;
  }
  return out;
}

function unescape(s) {
  return s.replace(/\\(u\{[0-9a-fA-F]+\}|.)/g, (_, e) => {
    if (e[0] === "u") return String.fromCodePoint(parseInt(e.slice(2, -1), 16));
    return { n: "\n", r: "\r", t: "\t" }[e] ?? e;
  });
}

// The text of a string node without interpolation, else undefined.
function plainString(n) {
  if (!n || n.type !== "string") return undefined;
  let s = "";
  for (const c of kids(n)) {
    if (c.type === "string_content") s += c.text;
    else if (c.type === "escape_sequence") s += unescape(c.text);
    else return undefined;
  }
  return s;
}

// The key of an object_property (identifier or plain string), or undefined.
function propKey(prop) {
  const k = kids(prop)[0];
  if (!k) return undefined;
  if (k.type === "identifier") return k.text;
  return plainString(k);
}

// The value node of an object_property: the first named node after ':'.
function propValue(prop) {
  let seen = false;
  for (const c of prop.children) {
    if (!seen) seen = c.type === ":";
    else if (c.isNamed && c.type !== "comment") return c;
  }
  return null;
}

// Property `key` of an object node (case-insensitive, as ARM), or null.
function objProp(obj, key) {
  const want = key.toLowerCase();
  for (const p of kids(obj)) {
    if (p.type === "object_property" && propKey(p)?.toLowerCase() === want) return p;
  }
  return null;
}

// The pieces of a for_statement: loop variable, index variable, source, body.
function parseFor(n) {
  let state = "";
  const f = { item: null, index: null, source: null, body: null };
  for (const c of n.children) {
    if (c.type === "for" || c.type === "in" || c.type === ":") { state = c.type; continue; }
    if (!c.isNamed || c.type === "comment") continue;
    if (state === "for") {
      if (c.type === "identifier") f.item = c.text;
      else if (c.type === "for_loop_parameters") {
        f.item = kids(c).find(x => x.type === "loop_variable")?.text ?? null;
        f.index = kids(c).find(x => x.type === "loop_enumerator")?.text ?? null;
      }
      state = "";
    } else if (state === "in") { f.source = c; state = ""; }
    else if (state === ":") { f.body = c; state = ""; }
  }
  return f;
}

// The object body of a resource/module value (through `if` and `for`).
function bodyOf(value) {
  let v = value;
  while (v && (v.type === "if_statement" || v.type === "for_statement")) {
    v = v.type === "for_statement" ? parseFor(v).body : kids(v).at(-1);
  }
  return v && v.type === "object" ? v : null;
}

// ------------------------------------------------------------ the model

// One file: its declarations by name.
function loadFile(path, idx) {
  const text = readFileSync(path, "utf8");
  const tree = parser.parse(text);
  const file = { path, idx, tree, params: new Map(), vars: new Map(), resources: [], outputs: [], modules: [], moduleRefs: [], symbols: new Map() };
  const walkErr = n => {
    if (n.isError || n.isMissing) {
      report(file, n, "syntax", n.isMissing ? `missing ${n.type}` : `syntax error near '${n.text.slice(0, 40)}'`);
      return;
    }
    if (n.hasError) for (const c of n.children) walkErr(c);
  };
  walkErr(tree.rootNode);
  for (const d of kids(tree.rootNode)) {
    const name = kids(d).find(c => c.type === "identifier");
    if (d.type === "parameter_declaration" && name) {
      const decs = decoratorsOf(d);
      const eq = d.children.findIndex(c => c.type === "=");
      const def = eq >= 0 ? d.children.slice(eq + 1).find(c => c.isNamed && c.type !== "comment") : null;
      file.params.set(name.text, { name: name.text, node: d, nameNode: name, decs, def, secure: decs.some(x => x.name === "secure") });
    } else if (d.type === "variable_declaration" && name) {
      const eq = d.children.findIndex(c => c.type === "=");
      file.vars.set(name.text, d.children.slice(eq + 1).find(c => c.isNamed && c.type !== "comment"));
    } else if (d.type === "resource_declaration") {
      collectResource(file, d, null);
    } else if (d.type === "module_declaration") {
      const eq = d.children.findIndex(c => c.type === "=");
      const body = bodyOf(eq >= 0 ? d.children.slice(eq + 1).find(c => c.isNamed && c.type !== "comment") : null);
      file.modules.push(body);
      const src = plainString(kids(d).find(c => c.type === "string"));
      if (src !== undefined && body) file.moduleRefs.push({ symbol: name ? name.text : "?", src, body });
    } else if (d.type === "output_declaration" && name) {
      const eq = d.children.findIndex(c => c.type === "=");
      file.outputs.push({ name: name.text, nameNode: name, node: d, value: d.children.slice(eq + 1).find(c => c.isNamed && c.type !== "comment") });
    }
  }
  return file;
}

function collectResource(file, decl, parent) {
  const ks = kids(decl);
  const sym = ks.find(c => c.type === "identifier");
  const typeNode = ks.find(c => c.type === "string");
  const eq = decl.children.findIndex(c => c.type === "=");
  const value = eq >= 0 ? decl.children.slice(eq + 1).find(c => c.isNamed && c.type !== "comment") : null;
  const typeStr = plainString(typeNode);
  let type = null;
  let apiVersion = null;
  if (typeStr !== undefined) {
    const at = typeStr.indexOf("@");
    type = at >= 0 ? typeStr.slice(0, at) : typeStr;
    apiVersion = at >= 0 ? typeStr.slice(at + 1) : null;
    if (parent && parent.type) type = `${parent.type}/${type}`;
    else if (parent) type = null;
  }
  const r = {
    file, decl, symbol: sym ? sym.text : "?", symNode: sym || decl, typeNode, typeStr, value,
    type, key: type ? type.toLowerCase() : null, apiVersion,
    existing: decl.children.some(c => c.type === "existing"),
    body: bodyOf(value), parent,
  };
  r.hostMarker = commentsAbove(decl).find(c => HOST_STORAGE_MARKER.test(c.text.trim())) || null;
  file.resources.push(r);
  if (sym) file.symbols.set(sym.text, r);
  if (r.body) {
    for (const p of kids(r.body)) {
      const inner = p.type === "object_property" && kids(p)[0]?.type === "resource_declaration" ? kids(p)[0] : null;
      if (inner) collectResource(file, inner, r);
    }
  }
}

// ------------------------------------------------------- value resolution

// Follows parentheses, var references, loop variables and property or index
// accesses into object/array literals. Returns the node reached.
function deref(node, file, env = new Map(), depth = 0) {
  let n = node;
  for (let guard = 0; n && guard < 50; guard++) {
    if (n.type === "parenthesized_expression") { n = kids(n)[0]; continue; }
    if (n.type === "identifier") {
      if (env.has(n.text)) { n = env.get(n.text); continue; }
      if (file.vars.has(n.text)) { n = file.vars.get(n.text); continue; }
      return n;
    }
    if (n.type === "member_expression" && depth < 20) {
      const ks = kids(n);
      if (n.children.some(c => c.type === "!" || c.type === ".?")) return n;
      const base = deref(ks[0], file, env, depth + 1);
      const prop = ks.at(-1);
      if (base && base.type === "object" && prop.type === "property_identifier") {
        const p = objProp(base, prop.text);
        if (p) { n = propValue(p); continue; }
      }
      return n;
    }
    if (n.type === "subscript_expression" && depth < 20) {
      const ks = kids(n);
      const base = deref(ks[0], file, env, depth + 1);
      const idx = lit(ks[1], file, env, depth + 1);
      if (base && base.type === "array" && typeof idx === "number") {
        const el = kids(base)[idx];
        if (el) { n = el; continue; }
      } else if (base && base.type === "object" && typeof idx === "string") {
        const p = objProp(base, idx);
        if (p) { n = propValue(p); continue; }
      }
      return n;
    }
    return n;
  }
  return n;
}

const NOT_LITERAL = Symbol("not literal");

// The literal value of node (string, number, boolean, null), interpolations
// included when each part resolves; NOT_LITERAL otherwise.
function lit(node, file, env = new Map(), depth = 0) {
  const n = deref(node, file, env, depth);
  if (!n) return NOT_LITERAL;
  switch (n.type) {
    case "boolean": return n.text === "true";
    case "null": return null;
    case "number": return Number(n.text);
    case "unary_expression": {
      const [op] = n.children;
      const v = lit(kids(n)[0], file, env, depth + 1);
      if (op.type === "!" && typeof v === "boolean") return !v;
      if (op.type === "-" && typeof v === "number") return -v;
      return NOT_LITERAL;
    }
    case "string": {
      let s = "";
      for (const c of kids(n)) {
        if (c.type === "string_content") s += c.text;
        else if (c.type === "escape_sequence") s += unescape(c.text);
        else if (c.type === "interpolation") {
          if (depth > 20) return NOT_LITERAL;
          const v = lit(kids(c)[0], file, env, depth + 1);
          if (v === NOT_LITERAL || (v !== null && typeof v === "object")) return NOT_LITERAL;
          s += String(v);
        } else return NOT_LITERAL;
      }
      return s;
    }
  }
  return NOT_LITERAL;
}

// The string values of a param's @allowed([...]) decorator, or null when it
// has none; an entry that is not a literal is NOT_LITERAL.
function allowedOf(param) {
  const d = param.decs.find(x => x.name === "allowed");
  if (!d) return null;
  const arr = d.args[0];
  if (!arr || arr.type !== "array") return { node: d.node, values: [NOT_LITERAL] };
  return { node: d.node, values: kids(arr).map(e => lit(e, { vars: new Map() })) };
}

const show = v => (typeof v === "string" ? `'${v}'` : String(v));

// Checks that the value at `path` under `obj` satisfies `test`.
// want: how to say the right value, e.g. "'TLS1_2'". opts.absentOK: a
// missing property passes. Reports under `rule` and returns whether it passed.
// One level of property lookup on an expression that should be an object:
// an object literal; a ternary (each branch is looked up: all must pass);
// or union(a, b, ...) (the last argument that has the key wins). Returns
// outcomes {value: node} | {missing: node} | {opaque: node}.
function step(node, key, file, env, depth = 0) {
  const d = deref(node, file, env);
  if (!d || depth > 20) return [{ opaque: node }];
  if (d.type === "object") {
    const p = objProp(d, key);
    return p ? [{ value: propValue(p) }] : [{ missing: d }];
  }
  if (d.type === "ternary_expression") {
    const [, a, b] = kids(d);
    return [...step(a, key, file, env, depth + 1), ...step(b, key, file, env, depth + 1)];
  }
  if (d.type === "call_expression" && kids(d)[0].text === "union") {
    const argList = kids(d).find(c => c.type === "arguments");
    const argNodes = argList ? kids(argList) : [];
    const out = [];
    for (let i = argNodes.length - 1; i >= 0; i--) {
      const res = step(argNodes[i], key, file, env, depth + 1);
      out.push(...res.filter(x => !x.missing));
      if (res.every(x => !x.missing)) return out;
    }
    out.push({ missing: d });
    return out;
  }
  return [{ opaque: d }];
}

// The leaf values of an expression: both branches of a ternary, else itself.
function leaves(node, file, env, depth = 0) {
  const d = deref(node, file, env);
  if (d && d.type === "ternary_expression" && depth < 20) {
    const [, a, b] = kids(d);
    return [...leaves(a, file, env, depth + 1), ...leaves(b, file, env, depth + 1)];
  }
  return [node];
}

// Checks that every value `path` can take under the resource body
// satisfies `test`. want: how to say the right value, e.g. "'TLS1_2'".
// opts.absentOK: a missing property passes. Reports under `rule`.
const opaqueReported = new Set();
function expectAt(r, rule, path, want, test, opts = {}) {
  const file = r.file;
  const keys = path.split(".");
  let cur = [{ value: r.body }];
  let ok = true;
  for (let i = 0; i < keys.length; i++) {
    const at = keys.slice(0, i).join(".");
    const next = [];
    for (const c of cur) {
      for (const o of step(c.value, keys[i], file)) {
        if (o.value) { next.push(o); continue; }
        if (o.missing) {
          if (opts.absentOK) continue;
          report(file, i === 0 ? r.symNode : o.missing, rule, `${r.type} ${r.symbol}: ${path} must be ${want} (it is not set)`);
        } else {
          const k = `${rule}:${file.idx}:${o.opaque.startIndex}`;
          if (!opaqueReported.has(k)) {
            opaqueReported.add(k);
            report(file, o.opaque, rule, `${r.type} ${r.symbol}: ${at} is ${short(o.opaque)}, not an object literal (or a var, ternary or union() of them), so ${path} (and any other rule under ${at}) cannot be checked: write it as { ... }`);
          }
        }
        ok = false;
      }
    }
    cur = next;
  }
  for (const c of cur) {
    for (const leaf of leaves(c.value, file)) {
      if (!expectValue(r, rule, path, leaf, want, test)) ok = false;
    }
  }
  return ok;
}

function expectValue(r, rule, path, node, want, test) {
  const file = r.file;
  const v = lit(node, file);
  if (v !== NOT_LITERAL) {
    if (test(v)) return true;
    report(file, node, rule, `${r.type} ${r.symbol}: ${path} must be ${want}, not ${show(v)}`);
    return false;
  }
  const d = deref(node, file);
  if (d && d.type === "identifier" && file.params.has(d.text)) {
    const param = file.params.get(d.text);
    const allowed = allowedOf(param);
    if (!allowed) {
      report(file, node, rule, `${r.type} ${r.symbol}: ${path} must be ${want}; it is param ${d.text}, which has no @allowed, so any value can be deployed: write the literal`);
      return false;
    }
    const bad = allowed.values.filter(x => x === NOT_LITERAL || !test(x));
    if (bad.length === 0) return true;
    report(file, node, rule, `${r.type} ${r.symbol}: ${path} must be ${want}; param ${d.text} allows ${bad.map(x => (x === NOT_LITERAL ? "a non-literal" : show(x))).join(", ")}`);
    return false;
  }
  report(file, node, rule, `${r.type} ${r.symbol}: ${path} must be ${want}; ${short(node)} is not a literal infra-lint can check: write the literal`);
  return false;
}

// A value infra-lint cannot compute (a param, a resource property, a
// function it does not know...).
class Opaque extends Error {
  constructor(node) {
    super("opaque");
    this.node = node;
  }
}
class JSVal {
  constructor(v) { this.v = v; }
}

// Evaluates an expression to a JS value: literals, arrays, objects, vars,
// loop variables (env: name → node or JSVal), member and index access,
// interpolation, and the functions map, filter, flatten, concat, union,
// with lambdas. Anything else throws Opaque.
function evalJS(n, file, env = new Map(), depth = 0) {
  if (!n || depth > 64) throw new Opaque(n);
  const ev = x => evalJS(x, file, env, depth + 1);
  const ks = kids(n);
  switch (n.type) {
    case "parenthesized_expression": return ev(ks[0]);
    case "boolean": return n.text === "true";
    case "null": return null;
    case "number": return Number(n.text);
    case "identifier": {
      if (env.has(n.text)) {
        const b = env.get(n.text);
        return b instanceof JSVal ? b.v : evalJS(b, file, new Map(), depth + 1);
      }
      if (file.vars.has(n.text)) return evalJS(file.vars.get(n.text), file, new Map(), depth + 1);
      throw new Opaque(n);
    }
    case "string": {
      let s = "";
      for (const c of ks) {
        if (c.type === "string_content") s += c.text;
        else if (c.type === "escape_sequence") s += unescape(c.text);
        else if (c.type === "interpolation") {
          const v = ev(kids(c)[0]);
          if (v !== null && typeof v === "object") throw new Opaque(c);
          s += String(v);
        } else throw new Opaque(c);
      }
      return s;
    }
    case "array": return ks.map(ev);
    case "object": {
      const o = {};
      for (const p of ks) {
        if (p.type !== "object_property") continue;
        const k = propKey(p);
        if (k === undefined) throw new Opaque(p);
        o[k] = ev(propValue(p));
      }
      return o;
    }
    case "unary_expression": {
      const v = ev(ks[0]);
      if (n.children[0].type === "!" && typeof v === "boolean") return !v;
      if (n.children[0].type === "-" && typeof v === "number") return -v;
      throw new Opaque(n);
    }
    case "member_expression": {
      if (n.children.some(c => c.type === "!" || c.type === ".?")) throw new Opaque(n);
      const base = ev(ks[0]);
      const key = ks.at(-1).text;
      if (base && typeof base === "object" && !Array.isArray(base)) {
        const k = Object.keys(base).find(x => x.toLowerCase() === key.toLowerCase());
        if (k !== undefined) return base[k];
      }
      throw new Opaque(n);
    }
    case "subscript_expression": {
      const base = ev(ks[0]);
      const idx = ev(ks[1]);
      if (Array.isArray(base) && typeof idx === "number" && idx in base) return base[idx];
      if (base && typeof base === "object" && typeof idx === "string" && idx in base) return base[idx];
      throw new Opaque(n);
    }
    case "ternary_expression": {
      const c = ev(ks[0]);
      if (typeof c !== "boolean") throw new Opaque(n);
      return ev(c ? ks[1] : ks[2]);
    }
    case "call_expression": {
      const fn = ks[0].type === "identifier" ? ks[0].text : null;
      const argList = ks.find(c => c.type === "arguments");
      const a = argList ? kids(argList) : [];
      const lambda = (node, ...vals) => {
        if (!node || node.type !== "lambda_expression") throw new Opaque(node || n);
        const lk = kids(node);
        const ps = lk[0].type === "identifier" ? [lk[0].text] : kids(lk[0]).map(x => x.text);
        const e2 = new Map(env);
        ps.forEach((p, i) => e2.set(p, new JSVal(vals[i])));
        return evalJS(lk.at(-1), file, e2, depth + 1);
      };
      if (fn === "flatten" && a.length === 1) {
        const v = ev(a[0]);
        if (!Array.isArray(v)) throw new Opaque(n);
        return v.flat(1);
      }
      if ((fn === "map" || fn === "filter") && a.length === 2) {
        const v = ev(a[0]);
        if (!Array.isArray(v)) throw new Opaque(n);
        if (fn === "map") return v.map((x, i) => lambda(a[1], x, i));
        return v.filter((x, i) => {
          const keep = lambda(a[1], x, i);
          if (typeof keep !== "boolean") throw new Opaque(a[1]);
          return keep;
        });
      }
      if (fn === "concat" && a.length) {
        const vs = a.map(ev);
        if (vs.every(Array.isArray)) return vs.flat(1);
        if (vs.every(x => typeof x === "string")) return vs.join("");
        throw new Opaque(n);
      }
      if (fn === "union" && a.length) {
        const vs = a.map(ev);
        if (vs.every(x => x && typeof x === "object" && !Array.isArray(x))) return Object.assign({}, ...vs);
        throw new Opaque(n);
      }
      throw new Opaque(n);
    }
  }
  throw new Opaque(n);
}

// ---------------------------------------------------------------- rules

// Per-type rules with the apiVersions their property paths were checked
// against in the Azure resource reference (all GA).
const STORAGE_VERSIONS = ["2023-01-01", "2023-04-01", "2023-05-01", "2024-01-01", "2025-01-01"];
const WEB_VERSIONS = ["2022-09-01", "2023-01-01", "2023-12-01", "2024-04-01", "2024-11-01"];
const COSMOS_VERSIONS = ["2023-04-15", "2023-09-15", "2023-11-15", "2024-05-15", "2024-08-15", "2024-11-15", "2025-04-15"];
const RULES = {
  "microsoft.storage/storageaccounts": { verified: STORAGE_VERSIONS, check: checkStorage },
  "microsoft.storage/storageaccounts/blobservices": { verified: STORAGE_VERSIONS, check: r => { checkBlobService(r); checkCors(r); } },
  // properties.cors.corsRules exists on all four services in these versions.
  "microsoft.storage/storageaccounts/fileservices": { verified: STORAGE_VERSIONS, check: checkCors },
  "microsoft.storage/storageaccounts/queueservices": { verified: STORAGE_VERSIONS, check: checkCors },
  "microsoft.storage/storageaccounts/tableservices": { verified: STORAGE_VERSIONS, check: checkCors },
  "microsoft.web/sites": { verified: WEB_VERSIONS, check: checkSite },
  "microsoft.web/sites/config": { verified: WEB_VERSIONS },
  "microsoft.documentdb/databaseaccounts": { verified: COSMOS_VERSIONS, check: checkCosmos },
  "microsoft.documentdb/databaseaccounts/sqldatabases/containers": { verified: COSMOS_VERSIONS },
  // minimumTlsVersion is GA only from 2024-01-01.
  "microsoft.servicebus/namespaces": { verified: ["2024-01-01"], check: checkServiceBus },
  "microsoft.keyvault/vaults": { verified: ["2022-07-01", "2023-02-01", "2023-07-01", "2024-11-01"], check: checkKeyVault },
  // disableLocalAuth is GA from 2025-05-01 (azure-rest-api-specs, stable/2025-05-01).
  "microsoft.communication/communicationservices": { verified: ["2025-05-01"], check: checkCommunication },
  "microsoft.communication/emailservices": { verified: ["2025-05-01"], check: checkCommunication },
  "microsoft.communication/emailservices/domains": { verified: ["2025-05-01"], check: checkMailDomain },
};

let hostMarked = null;
function checkStorage(r) {
  const R = "storage-security";
  expectAt(r, R, "properties.minimumTlsVersion", "'TLS1_2'", v => v === "TLS1_2");
  expectAt(r, R, "properties.supportsHttpsTrafficOnly", "true", v => v === true);
  expectAt(r, R, "properties.allowBlobPublicAccess", "false", v => v === false);
  expectAt(r, R, "properties.encryption.requireInfrastructureEncryption", "true", v => v === true);
  expectAt(r, R, "sku.name", "a non-geo-replicated SKU (LRS or ZRS: GRS/GZRS copy data to the paired region)", v => typeof v === "string" && !GEO_SKU.test(v));
  const marker = r.hostMarker;
  if (marker) {
    if (hostMarked) report(r.file, marker, R, `${r.type} ${r.symbol}: only one account may be the Functions host account; ${hostMarked} is marked already`);
    else hostMarked = `${r.symbol} (${r.file.path}:${r.symNode.startPosition.row + 1})`;
  } else {
    expectAt(r, R, "properties.allowSharedKeyAccess", "false (only the Functions host account, marked `// infra-lint: host-storage`, may use shared keys)", v => v === false);
  }
}

function checkBlobService(r) {
  const R = "blob-service";
  expectAt(r, R, "properties.isVersioningEnabled", "false", v => v === false);
  expectAt(r, R, "properties.deleteRetentionPolicy.enabled", "false", v => v === false);
  const drp = lookup(r.body, "properties.deleteRetentionPolicy", r.file);
  if (drp && drp.type === "object" && objProp(drp, "days")) {
    report(r.file, objProp(drp, "days"), R, `${r.type} ${r.symbol}: properties.deleteRetentionPolicy.days must not be set (soft delete stays off)`);
  }
  for (const p of ["changeFeed", "containerDeleteRetentionPolicy", "restorePolicy"]) {
    expectAt(r, R, `properties.${p}.enabled`, "false or absent", v => v === false, { absentOK: true });
  }
}

function checkSite(r) {
  const R = "functionapp";
  expectAt(r, R, "properties.httpsOnly", "true", v => v === true);
  expectAt(r, R, "properties.siteConfig.minTlsVersion", "'1.2'", v => v === "1.2");
  expectAt(r, R, "properties.siteConfig.ftpsState", "'Disabled'", v => v === "Disabled");
  expectAt(r, R, "identity.type", "'SystemAssigned' (or 'SystemAssigned, UserAssigned')", v => typeof v === "string" && /systemassigned/i.test(v));
}

function checkCosmos(r) {
  const R = "cosmos";
  expectAt(r, R, "properties.disableLocalAuth", "true", v => v === true);
  expectAt(r, R, "properties.minimalTlsVersion", "'Tls12'", v => v === "Tls12");
  expectAt(r, R, "properties.backupPolicy.type", "'Continuous'", v => v === "Continuous");
  const locProp = lookupProp(r.body, "properties.locations", r.file);
  if (!locProp) {
    report(r.file, r.symNode, R, `${r.type} ${r.symbol}: properties.locations must list exactly one region (it is not set)`);
    return;
  }
  const arr = deref(locProp, r.file);
  if (!arr || arr.type !== "array") {
    report(r.file, locProp, R, `${r.type} ${r.symbol}: properties.locations must be an array literal of exactly one entry, not ${short(locProp)}`);
    return;
  }
  const entries = kids(arr);
  if (entries.length !== 1) report(r.file, arr, R, `${r.type} ${r.symbol}: properties.locations must have exactly one entry (data stays in one region), not ${entries.length}`);
}

function checkServiceBus(r) {
  const R = "servicebus";
  expectAt(r, R, "properties.disableLocalAuth", "true", v => v === true);
  expectAt(r, R, "properties.minimumTlsVersion", "'1.2'", v => v === "1.2");
}

function checkKeyVault(r) {
  const R = "keyvault";
  expectAt(r, R, "properties.enableRbacAuthorization", "true", v => v === true);
  expectAt(r, R, "properties.enablePurgeProtection", "true", v => v === true);
}

function checkCommunication(r) {
  const R = "communication";
  expectAt(r, R, "properties.dataLocation", "an EEA data location ('Europe', 'France', 'Germany' or 'Norway')",
    v => typeof v === "string" && EEA_DATA_LOCATIONS.has(v.toLowerCase()));
  if (r.key === "microsoft.communication/communicationservices") {
    expectAt(r, R, "properties.disableLocalAuth", "true", v => v === true);
  }
}

function checkMailDomain(r) {
  expectAt(r, "communication", "properties.userEngagementTracking", "'Disabled'", v => v === "Disabled");
}

// storage-cors. Browsers talk to Blob Storage only, with Put Block and Put
// Block List (PUT; OPTIONS for the preflight).
const CORS_METHODS = new Set(["PUT", "OPTIONS"]);
const CORS_HEADERS = ["x-ms-blob-type", "x-ms-blob-content-type", "content-type", "x-ms-version"];
const HTTPS_ORIGIN = /^https:\/\/[^/*\s]+$/i;
const corsGuard = p => `startsWith(${p}, 'https://') && !contains(${p}, '*') ? ${p} : fail('...')`;

function checkCors(r) {
  const R = "storage-cors";
  const file = r.file;
  const isBlob = r.key === "microsoft.storage/storageaccounts/blobservices";
  let cur = [{ value: r.body }];
  const keys = ["properties", "cors", "corsRules"];
  for (let i = 0; i < keys.length; i++) {
    const next = [];
    for (const c of cur) {
      for (const o of step(c.value, keys[i], file)) {
        if (o.value) next.push(o);
        else if (o.opaque) report(file, o.opaque, R, `${r.type} ${r.symbol}: ${keys.slice(0, i).join(".")} is ${short(o.opaque)}, not an object literal (or a var, ternary or union() of them), so properties.cors.corsRules cannot be checked: write it as { ... }`);
      }
    }
    cur = next;
  }
  for (const c of cur) {
    for (const v of arrayVariants(c.value, file)) {
      if (v.opaque) {
        report(file, v.opaque, R, `${r.type} ${r.symbol}: properties.cors.corsRules is ${short(v.opaque)}, not an array literal (or a var, ternary or concat() of them): infra-lint cannot check it`);
        continue;
      }
      if (!isBlob) {
        if (v.elems.length) report(file, c.value, R, `${r.type} ${r.symbol}: properties.cors.corsRules must be empty or absent: browsers only upload to Blob Storage`);
        continue;
      }
      v.elems.forEach((e, i) => {
        for (const leaf of leaves(e, file)) {
          const o = deref(leaf, file);
          if (o && o.type === "object") checkCorsRule(r, o, `properties.cors.corsRules[${i}]`);
          else report(file, leaf, R, `${r.type} ${r.symbol}: properties.cors.corsRules[${i}] is ${short(leaf)}, not an object literal: infra-lint cannot check it`);
        }
      });
    }
  }
}

// The element lists an array expression can take: an array literal (or a
// var), each branch of a ternary, concat() of those. [{elems}] | [{opaque}].
function arrayVariants(node, file, depth = 0) {
  const d = deref(node, file);
  if (!d || depth > 20) return [{ opaque: node }];
  if (d.type === "array") return [{ elems: kids(d) }];
  if (d.type === "ternary_expression") {
    const [, a, b] = kids(d);
    return [...arrayVariants(a, file, depth + 1), ...arrayVariants(b, file, depth + 1)];
  }
  if (d.type === "call_expression" && kids(d)[0].text === "concat") {
    const argList = kids(d).find(c => c.type === "arguments");
    let out = [{ elems: [] }];
    for (const a of argList ? kids(argList) : []) {
      const vs = arrayVariants(a, file, depth + 1);
      const bad = vs.find(x => x.opaque);
      if (bad) return [bad];
      out = out.flatMap(x => vs.map(y => ({ elems: [...x.elems, ...y.elems] }))).slice(0, 64);
    }
    return out;
  }
  return [{ opaque: d }];
}

// The values an element can take: literals (both branches of a ternary), or
// a param's @allowed values. {values} | {opaque, why}.
function choices(node, file) {
  const values = [];
  for (const leaf of leaves(node, file)) {
    const v = lit(leaf, file);
    if (v !== NOT_LITERAL) { values.push(v); continue; }
    const d = deref(leaf, file);
    if (d && d.type === "identifier" && file.params.has(d.text)) {
      const allowed = allowedOf(file.params.get(d.text));
      if (!allowed) return { opaque: leaf, why: `param ${d.text}, which has no @allowed, so any value can be deployed` };
      if (allowed.values.includes(NOT_LITERAL)) return { opaque: leaf, why: `param ${d.text}, whose @allowed has a non-literal` };
      values.push(...allowed.values);
      continue;
    }
    return { opaque: leaf, why: `${short(leaf)}, not a literal infra-lint can check` };
  }
  return { values };
}

function checkCorsRule(r, obj, at) {
  const R = "storage-cors";
  const file = r.file;
  const what = `${r.type} ${r.symbol}: ${at}`;
  const list = key => {
    const p = objProp(obj, key);
    if (!p) {
      report(file, obj, R, `${what}.${key} is not set`);
      return [];
    }
    const out = [];
    for (const v of arrayVariants(propValue(p), file)) {
      if (v.opaque) report(file, v.opaque, R, `${what}.${key} is ${short(v.opaque)}, not an array literal (or a var, ternary or concat() of them): infra-lint cannot check it`);
      else out.push(v.elems);
    }
    return out;
  };
  // Whether some element of elems is always `want` (case-insensitive).
  const has = (elems, want) => elems.some(e => {
    const c = choices(e, file);
    return c.values && c.values.length && c.values.every(x => typeof x === "string" && x.toLowerCase() === want.toLowerCase());
  });

  for (const elems of list("allowedOrigins")) {
    for (const e of elems) checkOrigin(r, `${at}.allowedOrigins`, e, file, [], new Set(), "");
  }

  for (const elems of list("allowedMethods")) {
    let opaque = false;
    for (const e of elems) {
      const c = choices(e, file);
      if (c.opaque) { report(file, c.opaque, R, `${what}.allowedMethods: the entry is ${c.why}: write the literal`); opaque = true; continue; }
      for (const x of c.values) {
        if (typeof x !== "string" || !CORS_METHODS.has(x.toUpperCase())) report(file, e, R, `${what}.allowedMethods may hold only PUT and OPTIONS (browsers only upload blocks), not ${show(x)}`);
      }
    }
    if (!opaque && !has(elems, "PUT")) report(file, obj, R, `${what}.allowedMethods must include 'PUT' (Put Block, Put Block List)`);
  }

  for (const elems of list("allowedHeaders")) {
    let opaque = false;
    for (const e of elems) {
      const c = choices(e, file);
      if (c.opaque) { report(file, c.opaque, R, `${what}.allowedHeaders: the entry is ${c.why}: write the literal`); opaque = true; continue; }
      for (const x of c.values) {
        if (typeof x !== "string" || x.includes("*")) report(file, e, R, `${what}.allowedHeaders must name each header, no '*' wildcard: not ${show(x)}`);
      }
    }
    const missing = CORS_HEADERS.filter(h => !has(elems, h));
    if (!opaque && missing.length) report(file, obj, R, `${what}.allowedHeaders must include ${missing.map(h => `'${h}'`).join(", ")} (what browser uploads with a SAS URL send)`);
  }
}

// Checks that an allowedOrigins entry is an https origin: a literal
// https://host[:port] (no '*', no path); an interpolated string whose
// literal text is one (an interpolated part counts as a host name); a param
// with @allowed values that are, or one guarded on the way by a ternary
// `startsWith(p, 'https://') && !contains(p, '*') ? p : fail(...)`; or a
// module param with no @allowed whose value, in every linted file that
// deploys the module, passes this check. A fail() branch passes; a param's
// literal default must not be '*' or http://. `facts` are the conditions
// known to hold on the way (from the ternaries taken).
function checkOrigin(r, at, node, file, facts, seen, via) {
  const R = "storage-cors";
  const what = `${r.type} ${r.symbol}${file === r.file ? "" : ` (${r.file.path})`}: ${at}${via}`;
  const d = deref(node, file);
  if (!d) return;
  if (d.type === "ternary_expression") {
    const [c, a, b] = kids(d);
    checkOrigin(r, at, a, file, [...facts, ...condFacts(c, file, true)], seen, via);
    checkOrigin(r, at, b, file, [...facts, ...condFacts(c, file, false)], seen, via);
    return;
  }
  if (d.type === "call_expression" && /^(sys\.)?fail$/.test(kids(d)[0].text.replace(/\s+/g, ""))) return;
  if (d.type === "string") {
    let s = "";
    for (const c of kids(d)) {
      if (c.type === "string_content") s += c.text;
      else if (c.type === "escape_sequence") s += unescape(c.text);
      else {
        const v = c.type === "interpolation" ? lit(kids(c)[0], file) : NOT_LITERAL;
        s += typeof v === "string" || typeof v === "number" ? String(v) : "host";
      }
    }
    if (!HTTPS_ORIGIN.test(s)) report(file, node, R, `${what} must be an https origin (https://host[:port]: no '*', no http://, no path), not ${short(d)}`);
    return;
  }
  if (d.type === "identifier" && file.params.has(d.text)) {
    const param = file.params.get(d.text);
    if (param.def) {
      const dv = lit(param.def, file);
      if (typeof dv === "string" && dv !== "" && !HTTPS_ORIGIN.test(dv)) report(file, param.def, R, `${what}: param ${param.name} has the default ${show(dv)}, which is not an https origin`);
    }
    const holds = (fn, arg, pos) => facts.some(f => f.param === param.name && f.fn === fn && f.arg === arg && f.pos === pos);
    if (holds("startswith", "https://", true) && holds("contains", "*", false)) return;
    const allowed = allowedOf(param);
    if (allowed) {
      for (const v of allowed.values) {
        if (typeof v !== "string" || !HTTPS_ORIGIN.test(v)) report(file, allowed.node, R, `${what}: param ${param.name} allows ${v === NOT_LITERAL ? "a non-literal" : show(v)}, not an https origin`);
      }
      return;
    }
    const key = `${file.idx}:${param.name}`;
    if (seen.has(key)) return;
    seen.add(key);
    const callers = callersOf(file);
    if (callers.length === 0) {
      report(file, node, R, `${what} is param ${param.name}, which has no @allowed and is not guarded on the way by startsWith(${param.name}, 'https://') and !contains(${param.name}, '*'), so '*' or an http:// origin can be deployed: use \`${corsGuard(param.name)}\` (if this file is a module, lint it together with the file that deploys it)`);
      return;
    }
    for (const m of callers) {
      const pv = lookupProp(m.body, "params", m.file);
      const po = pv ? deref(pv, m.file) : null;
      const prop = po && po.type === "object" ? objProp(po, param.name) : null;
      const hop = `${via}, through param ${param.name} of module ${m.symbol},`;
      if (prop) checkOrigin(r, at, propValue(prop), m.file, [], seen, hop);
      else if (pv && (!po || po.type !== "object")) report(m.file, pv, R, `${what}: module ${m.symbol}'s params is ${short(pv)}, not an object literal: infra-lint cannot follow param ${param.name}`);
      else if (param.def) checkOrigin(r, at, param.def, file, [], seen, `${via}, through the default of param ${param.name} (module ${m.symbol} in ${m.file.path} does not set it),`);
    }
    return;
  }
  report(file, node, R, `${what} is ${short(d)}, which infra-lint cannot check: write an https origin literal, or a param guarded by \`${corsGuard("p")}\``);
}

// The facts a condition gives when it is `pos` (true or false): calls
// startsWith(param, 'literal') and contains(param, 'literal'), through
// vars, parentheses, !, && (when true) and || (when false).
function condFacts(c, file, pos, depth = 0) {
  const d = deref(c, file);
  if (!d || depth > 20) return [];
  if (d.type === "unary_expression" && d.children[0].type === "!") return condFacts(kids(d)[0], file, !pos, depth + 1);
  if (d.type === "binary_expression") {
    const op = d.children.find(x => !x.isNamed)?.type;
    const [a, b] = kids(d);
    if ((op === "&&" && pos) || (op === "||" && !pos)) return [...condFacts(a, file, pos, depth + 1), ...condFacts(b, file, pos, depth + 1)];
    return [];
  }
  if (d.type === "call_expression") {
    const fn = kids(d)[0].text.replace(/^sys\./, "").toLowerCase();
    const argList = kids(d).find(x => x.type === "arguments");
    const args = argList ? kids(argList) : [];
    if ((fn === "startswith" || fn === "contains") && args.length === 2) {
      const subj = deref(args[0], file);
      const arg = lit(args[1], file);
      if (subj && subj.type === "identifier" && file.params.has(subj.text) && typeof arg === "string") {
        // startsWith compares case-insensitively; contains does not.
        return [{ fn, param: subj.text, arg: fn === "startswith" ? arg.toLowerCase() : arg, pos }];
      }
    }
  }
  return [];
}

// The linted files' module declarations whose path resolves to file.
const callersIndex = new Map();
function callersOf(file) {
  if (!callersIndex.size) {
    for (const f of all) {
      for (const m of f.moduleRefs) {
        const target = resolve(dirname(f.path), m.src);
        if (!callersIndex.has(target)) callersIndex.set(target, []);
        callersIndex.get(target).push({ ...m, file: f });
      }
    }
    callersIndex.set("", []);
  }
  return callersIndex.get(resolve(file.path)) || [];
}

// The value node at a dotted path under an object (following vars), or null.
function lookupProp(obj, path, file, env) {
  let cur = obj;
  let node = null;
  for (const k of path.split(".")) {
    const o = deref(cur, file, env);
    if (!o || o.type !== "object") return null;
    const p = objProp(o, k);
    if (!p) return null;
    node = propValue(p);
    cur = node;
  }
  return node;
}
const lookup = (obj, path, file, env) => {
  const n = lookupProp(obj, path, file, env);
  return n ? deref(n, file, env) : null;
};

// api-version-pinned, across all files.
function checkApiVersions(all) {
  const R = "api-version-pinned";
  const first = new Map();
  for (const file of all) {
    for (const r of file.resources) {
      if (r.typeStr === undefined) {
        report(file, r.typeNode || r.decl, R, `resource ${r.symbol}: the type must be a plain string 'Namespace/type@YYYY-MM-DD', not ${short(r.typeNode || r.decl)}`);
        continue;
      }
      if (!r.apiVersion) {
        report(file, r.typeNode, R, `resource ${r.symbol}: '${r.typeStr}' has no @apiVersion`);
        continue;
      }
      if (!r.type) continue; // nested in a resource whose type is unknown: reported there
      const m = /^\d{4}-\d{2}-\d{2}(-[A-Za-z]+)?$/.exec(r.apiVersion);
      if (!m) {
        report(file, r.typeNode, R, `resource ${r.symbol}: apiVersion '${r.apiVersion}' is not a concrete YYYY-MM-DD version`);
        continue;
      }
      const tv = `${r.key}@${r.apiVersion.toLowerCase()}`;
      if (m[1] && !PREVIEW_ALLOWED[tv]) {
        report(file, r.typeNode, R, `resource ${r.symbol}: ${r.type}@${r.apiVersion} is a preview API: use a GA version (or add it to PREVIEW_ALLOWED in scripts/infra-lint.mjs with the reason)`);
        continue;
      }
      const f = first.get(r.key);
      if (!f) first.set(r.key, { v: r.apiVersion, where: `${file.path}:${r.typeNode.startPosition.row + 1}` });
      else if (f.v !== r.apiVersion) {
        report(file, r.typeNode, R, `resource ${r.symbol}: ${r.type} uses @${r.apiVersion} here but @${f.v} at ${f.where}: use one apiVersion per type`);
        continue;
      }
      const rule = RULES[r.key];
      if (rule && !rule.verified.includes(r.apiVersion)) {
        report(file, r.typeNode, R, `resource ${r.symbol}: infra-lint's rules for ${r.type} were checked against apiVersion ${rule.verified.join(", ")}, not ${r.apiVersion}: use one of them, or check the property paths in the ${r.apiVersion} reference and add it to RULES in scripts/infra-lint.mjs`);
      }
    }
  }
}

// Whether a param's type can hold a region name: not bool, int or object
// (so `param enableAllowedLocationsPolicy bool` is not a location).
function canHoldRegion(param) {
  const t = kids(param.node).find(c => c.type === "type");
  if (!t) return true;
  return !/^(bool|int|object)\??$/.test(t.text.replace(/\s+/g, ""));
}

// eea-location, per file.
function checkLocations(file) {
  const R = "eea-location";
  const usedAsLocation = new Set();
  const locationValues = []; // [{r, node, what}]
  for (const r of file.resources) {
    if (r.existing || !r.body) continue;
    const p = objProp(r.body, "location");
    if (p) locationValues.push({ r, node: propValue(p), what: "location" });
    if (r.key === "microsoft.documentdb/databaseaccounts") {
      const arr = lookup(r.body, "properties.locations", file);
      if (arr && arr.type === "array") {
        kids(arr).forEach((e, i) => {
          const o = deref(e, file);
          const ln = o && o.type === "object" ? objProp(o, "locationName") : null;
          if (ln) locationValues.push({ r, node: propValue(ln), what: `properties.locations[${i}].locationName` });
          else report(file, e, R, `${r.type} ${r.symbol}: properties.locations[${i}] must be an object literal with locationName set to the location param`);
        });
      }
    }
  }
  // A param passed to a module's location-like param is a location too.
  const passed = [];
  for (const m of file.modules) {
    const params = m && lookup(m, "params", file);
    if (!params || params.type !== "object") continue;
    for (const p of kids(params)) {
      if (p.type === "object_property" && /location/i.test(propKey(p) || "")) passed.push({ node: propValue(p) });
    }
  }
  for (const { node } of [...locationValues, ...passed]) {
    const d = deref(node, file);
    if (d && d.type === "identifier" && file.params.has(d.text)) usedAsLocation.add(d.text);
  }
  for (const param of file.params.values()) {
    if (!usedAsLocation.has(param.name) && !(/location/i.test(param.name) && canHoldRegion(param))) continue;
    const allowed = allowedOf(param);
    if (!allowed) {
      report(file, param.nameNode, R, `param ${param.name} is a location: give it @allowed([...]) with EEA regions only (e.g. 'westeurope', 'swedencentral')`);
      continue;
    }
    if (allowed.values.length === 0) report(file, allowed.node, R, `param ${param.name}: @allowed([]) is empty: list the EEA regions facet may use`);
    for (const v of allowed.values) {
      if (v === NOT_LITERAL) report(file, allowed.node, R, `param ${param.name}: every @allowed value must be a region name literal`);
      else if (typeof v !== "string" || !EEA_REGIONS.has(v.toLowerCase())) report(file, allowed.node, R, `param ${param.name}: @allowed lists ${show(v)}, which is not an EEA region (allowed: ${[...EEA_REGIONS].join(", ")})`);
    }
    if (param.def) {
      const dv = lit(param.def, file);
      if (dv !== NOT_LITERAL && !allowed.values.includes(dv)) report(file, param.def, R, `param ${param.name}: the default ${show(dv)} is not among its @allowed values`);
    }
  }
  const why = (r, node, seen) => {
    const d = deref(node, file);
    if (!d) return "has no value";
    if (d.type === "identifier" && file.params.has(d.text)) return null; // the param itself is checked above
    if (d.type === "member_expression") {
      const ks = kids(d);
      const base = deref(ks[0], file);
      if (ks.at(-1).text === "location" && base.type === "identifier" && file.symbols.has(base.text) && !d.children.some(c => c.type === "!" || c.type === ".?")) {
        const other = file.symbols.get(base.text);
        if (other.existing) return `is the location of \`existing\` resource ${other.symbol}, which infra-lint cannot see: use the location param`;
        if (seen.has(other)) return "is circular";
        const op = other.body && objProp(other.body, "location");
        if (!op) return `is the location of ${other.symbol}, which sets none`;
        seen.add(other);
        const w = why(other, propValue(op), seen);
        return w ? `is the location of ${other.symbol}, whose location ${w}` : null;
      }
    }
    const v = lit(d, file);
    if (v === "global" && GLOBAL_LOCATION_TYPES.has(r.key)) return null;
    if (typeof v === "string") return `is the literal ${show(v)}: use the location param (with its @allowed EEA regions)`;
    if (d.type === "member_expression" && /^resourceGroup\(\s*\)\.location$/.test(d.text.replace(/\s+/g, ""))) {
      return "is resourceGroup().location, which nothing restricts: use a param with @allowed EEA regions (its default may be resourceGroup().location)";
    }
    return `is ${short(d)}, not a location param with @allowed EEA regions`;
  };
  for (const { r, node, what } of locationValues) {
    const w = why(r, node, new Set([r]));
    if (w) report(file, node, R, `${r.type || "resource"} ${r.symbol}: ${what} ${w}`);
  }
}

// no-secrets-in-outputs, per file.
function checkOutputs(file) {
  const R = "no-secrets-in-outputs";
  const stripVault = s => s.replace(/key_?vaults?/gi, "");
  for (const o of file.outputs) {
    if (SECRET_WORD.test(stripVault(o.name))) {
      report(file, o.nameNode, R, `output ${o.name}: its name says it holds a secret; outputs are stored in the deployment history in clear: do not output secrets`);
      continue;
    }
    const found = [];
    const seenVars = new Set();
    const walk = n => {
      if (found.length) return;
      if (n.type === "call_expression") {
        const fn = kids(n)[0];
        const fname = fn.type === "member_expression" ? kids(fn).at(-1).text : fn.text;
        if (/^list/i.test(fname)) { found.push(`calls ${fname}()`); return; }
      }
      if (n.type === "identifier") {
        const p = file.params.get(n.text);
        if (p && p.secure) { found.push(`references @secure() param ${n.text}`); return; }
        if (file.vars.has(n.text) && !seenVars.has(n.text)) {
          seenVars.add(n.text);
          if (SECRET_WORD.test(stripVault(n.text))) { found.push(`references ${n.text}`); return; }
          walk(file.vars.get(n.text));
          return;
        }
      }
      if ((n.type === "identifier" || n.type === "property_identifier" || n.type === "string_content") && SECRET_WORD.test(stripVault(n.text))) {
        found.push(`mentions '${n.text.slice(0, 40)}'`);
        return;
      }
      for (const c of kids(n)) walk(c);
    };
    if (o.value) walk(o.value);
    if (found.length) report(file, o.nameNode, R, `output ${o.name} ${found[0]}: outputs are stored in the deployment history in clear: do not output secrets`);
  }
}

// app-settings, across all files.
function checkAppSettings(all, vars) {
  const R = "app-settings";
  const azure = Array.isArray(vars.azure) ? vars.azure : [];
  const localOnly = Array.isArray(vars.localOnly) ? vars.localOnly : [];
  const sites = [];
  const configs = [];
  for (const file of all) {
    for (const r of file.resources) {
      if (r.existing || !r.body) continue;
      if (r.key === "microsoft.web/sites") sites.push(r);
      if (r.key === "microsoft.web/sites/config") {
        const n = lit(lookupProp(r.body, "name", r.file), r.file);
        const nameNode = lookupProp(r.body, "name", r.file);
        const last = nameNode && nameNode.type === "string" ? kids(nameNode).filter(c => c.type === "string_content").at(-1) : null;
        const isApp = (typeof n === "string" && /(^|\/)appsettings$/i.test(n)) || (n === NOT_LITERAL && last && /\/appsettings$/i.test(last.text));
        if (isApp) configs.push(r);
      }
    }
  }
  if (sites.length === 0) {
    report(all[0], null, R, "no deployed Microsoft.Web/sites resource: the Functions app and its app settings cannot be checked");
    return;
  }
  const settings = new Map(sites.map(s => [s, []])); // site → [{name, node}]
  const shared = [];
  const addFrom = (r, node, out, what) => {
    const d = deref(node, r.file);
    if (!d) return;
    if (d.type === "call_expression" && /^(concat|union)$/.test(kids(d)[0].text)) {
      const argList = kids(d).find(c => c.type === "arguments");
      for (const a of argList ? kids(argList) : []) addFrom(r, a, out, what);
      return;
    }
    if (what === "array" && d.type === "array") {
      for (const e of kids(d)) {
        const o = deref(e, r.file);
        const nn = o && o.type === "object" ? lookupProp(o, "name", r.file) : null;
        const name = nn ? lit(nn, r.file) : NOT_LITERAL;
        if (typeof name === "string") out.push({ name, node: nn, value: lookupProp(o, "value", r.file), file: r.file });
        else report(r.file, e, R, `${r.type} ${r.symbol}: app setting ${short(e)} must be { name: '<literal>', value: ... }`);
      }
      return;
    }
    if (what === "object" && d.type === "object") {
      for (const p of kids(d)) {
        if (p.type !== "object_property") continue;
        const k = propKey(p);
        if (k !== undefined) out.push({ name: k, node: p, value: propValue(p), file: r.file });
        else report(r.file, p, R, `${r.type} ${r.symbol}: app setting name ${short(kids(p)[0])} must be a literal`);
      }
      return;
    }
    report(r.file, node, R, `${r.type} ${r.symbol}: app settings ${short(node)} cannot be read: write them as ${what === "array" ? "an array of { name, value }" : "an object literal"}`);
  };
  for (const s of sites) {
    const as = lookupProp(s.body, "properties.siteConfig.appSettings", s.file);
    if (as) addFrom(s, as, settings.get(s), "array");
  }
  for (const c of configs) {
    let target = null;
    if (c.parent && c.parent.key === "microsoft.web/sites") target = c.parent;
    else {
      const p = lookupProp(c.body, "parent", c.file);
      const pd = p ? deref(p, c.file) : null;
      if (pd && pd.type === "identifier" && c.file.symbols.has(pd.text)) target = c.file.symbols.get(pd.text);
    }
    const out = target && settings.has(target) ? settings.get(target) : shared;
    const props = lookupProp(c.body, "properties", c.file);
    if (props) addFrom(c, props, out, "object");
    else report(c.file, c.symNode, R, `${c.type} ${c.symbol}: appsettings without properties`);
  }
  const local = new Set(localOnly.map(x => x.toLowerCase()));
  for (const s of sites) {
    const set = [...settings.get(s), ...shared];
    const names = new Set(set.map(x => x.name));
    for (const a of azure) {
      if (!names.has(a)) report(s.file, s.symNode, R, `${s.type} ${s.symbol}: app setting ${a} is not set (facet config-vars lists it for Azure)`);
    }
  }
  const reported = new Set();
  for (const list of [...settings.values(), shared]) {
    for (const x of list) {
      if (x.name === "FACET_STORAGE_ACCOUNT_URL" && x.value) {
        const host = resourcesIn(x.value, x.file).find(r => r.hostMarker);
        if (host) report(x.file, x.value, R, `app setting FACET_STORAGE_ACCOUNT_URL points at ${host.symbol}, the Functions host account (shared keys allowed): uploads need their own account with allowSharedKeyAccess false`);
      }
      if (local.has(x.name.toLowerCase()) && !reported.has(x.node)) {
        reported.add(x.node);
        report(x.file, x.node, R, `app setting ${x.name} must not be set in Azure (facet config-vars lists it as localOnly: a key, connection string or local switch; Azure uses the managed identity)`);
      }
    }
  }
}

// The resources of file that expression n refers to (following vars).
function resourcesIn(n, file, seen = new Set()) {
  const out = [];
  const walk = x => {
    if (x.type === "identifier") {
      if (file.symbols.has(x.text)) out.push(file.symbols.get(x.text));
      else if (file.vars.has(x.text) && !seen.has(x.text)) { seen.add(x.text); walk(file.vars.get(x.text)); }
      return;
    }
    for (const c of kids(x)) walk(c);
  };
  walk(n);
  return out;
}

// cosmos-containers, across all files.
function checkContainers(all, want) {
  const R = "cosmos-containers";
  const got = new Map(); // id → [{r, pk, composites, node}]
  let anchor = null;
  for (const file of all) {
    for (const r of file.resources) {
      if (r.key === "microsoft.documentdb/databaseaccounts" && !anchor) anchor = r;
      if (r.existing || r.key !== "microsoft.documentdb/databaseaccounts/sqldatabases/containers") continue;
      // Expand a `for` over a var array literal; anything else is one instance.
      const instances = [];
      let v = r.value;
      if (v && v.type === "for_statement") {
        const f = parseFor(v);
        const src = f.source ? deref(f.source, file) : null;
        if (!src || src.type !== "array" || !f.item) {
          report(file, f.source || v, R, `${r.type} ${r.symbol}: the loop must run over an array literal (or a var holding one) for infra-lint to read the containers`);
          continue;
        }
        for (const el of kids(src)) instances.push(new Map([[f.item, el]]));
      } else instances.push(new Map());
      for (const env of instances) {
        const at = path => {
          const n = lookupProp(r.body, path, file, env);
          if (!n) return { missing: true };
          try {
            return { value: evalJS(n, file, env) };
          } catch (e) {
            if (!(e instanceof Opaque)) throw e;
            return { opaque: e.node };
          }
        };
        const idv = at("properties.resource.id");
        const id = idv.value;
        if (typeof id !== "string") {
          report(file, idv.opaque || r.symNode, R, `${r.type} ${r.symbol}: properties.resource.id must resolve to a container name${idv.opaque ? `; ${short(idv.opaque)} cannot be evaluated` : ""}`);
          continue;
        }
        const pkv = at("properties.resource.partitionKey.paths");
        const pk = Array.isArray(pkv.value) ? pkv.value : null;
        const civ = at("properties.resource.indexingPolicy.compositeIndexes");
        let composites = [];
        if (civ.opaque) composites = null;
        else if (Array.isArray(civ.value)) {
          composites = civ.value.filter(Array.isArray).map(ci => ci.map(e => {
            if (!e || typeof e !== "object") return null;
            const k = Object.keys(e);
            const get = name => e[k.find(x => x.toLowerCase() === name)];
            const ord = get("order") ?? "ascending";
            return { path: get("path"), order: typeof ord === "string" ? ord.toLowerCase() : ord };
          }));
        }
        if (!got.has(id)) got.set(id, []);
        got.get(id).push({ r, pk, composites });
      }
    }
  }
  for (const c of want) {
    const name = c.name ?? c.Name;
    const pkWant = c.partitionKey ?? c.PartitionKey;
    const orderBy = c.orderBy ?? c.OrderBy ?? [];
    const found = got.get(name);
    if (!found) {
      report(anchor ? anchor.file : all[0], anchor ? anchor.symNode : null, R, `Cosmos DB container ${name} (partition key ${pkWant}) is not declared`);
      continue;
    }
    for (const { r, pk, composites } of found) {
      if (!pk || pk.length !== 1 || pk[0] !== pkWant) {
        report(r.file, r.symNode, R, `${r.type} ${r.symbol}: container ${name} must have partitionKey.paths ['${pkWant}'], not ${pk ? JSON.stringify(pk) : "(missing, or not something infra-lint can evaluate)"}`);
      }
      if (composites === null) {
        if ((orderBy || []).length) report(r.file, r.symNode, R, `${r.type} ${r.symbol}: container ${name}: indexingPolicy.compositeIndexes cannot be evaluated (literals, vars, the loop variable, map/flatten/concat are understood)`);
        continue;
      }
      for (const f of orderBy || []) {
        if (f === "id") continue;
        const has = composites.some(ci => ci.length === 2 && ci[0] && ci[1] && ci[0].path === `/${f}` && ci[1].path === "/id" && ci[0].order === ci[1].order);
        if (!has) report(r.file, r.symNode, R, `${r.type} ${r.symbol}: container ${name} needs the composite index [{ path: '/${f}' }, { path: '/id' }] (same order on both) for ORDER BY ${f}, id`);
      }
    }
  }
}

// ----------------------------------------------------------------- main

const all = files.map((p, i) => loadFile(p, i));
checkApiVersions(all);
for (const file of all) {
  for (const r of file.resources) {
    if (r.existing || !r.body || !r.key) continue;
    const rule = RULES[r.key];
    if (rule && rule.check) rule.check(r);
  }
  checkLocations(file);
  checkOutputs(file);
}
if (configVarsFile) checkAppSettings(all, readJSON(configVarsFile, "--config-vars"));
if (containersFile) {
  const want = readJSON(containersFile, "--containers");
  if (!Array.isArray(want)) usage(`--containers ${containersFile}: want a JSON array`);
  checkContainers(all, want);
}

violations.sort((a, b) => a.idx - b.idx || a.line - b.line || a.col - b.col);
const seen = new Set();
for (const v of violations) {
  const s = `${v.file}:${v.line}:${v.col}: ${v.rule}: ${v.msg}`;
  if (!seen.has(s)) { seen.add(s); console.log(s); }
}
if (violations.length === 0) console.log(`infra-lint: ${files.length} file(s) OK`);
process.exit(violations.length ? 1 : 0);
