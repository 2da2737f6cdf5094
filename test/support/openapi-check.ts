// A structural check of an OpenAPI 3.1 document, by hand (no validator is a dependency): the fields the
// specification requires, path templates matching path parameters, unique operation ids, security
// requirements naming declared schemes, and every `$ref` resolving inside the document. Returns one line
// per problem, naming where it is.
type Json = Record<string, unknown>;

const METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);
const PATH_ITEM_KEYS = new Set([...METHODS, 'parameters', 'summary', 'description', 'servers', '$ref']);
const SCHEME_TYPES = new Set(['apiKey', 'http', 'mutualTLS', 'oauth2', 'openIdConnect']);
const PARAMETER_PLACES = new Set(['query', 'header', 'path', 'cookie']);

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

export function openapiProblems(doc: Json): string[] {
  const problems: string[] = [];
  const problem = (where: string, what: string) => problems.push(`${where}: ${what}`);
  if (doc.openapi !== '3.1.0') problem('openapi', `is ${JSON.stringify(doc.openapi)}, not "3.1.0"`);
  const info = doc.info;
  if (!isObject(info)) problem('info', 'missing');
  else {
    for (const key of ['title', 'version'])
      if (typeof info[key] !== 'string' || info[key] === '')
        problem(`info.${key}`, 'must be a non-empty string');
    if (info.license !== undefined && (!isObject(info.license) || typeof info.license.name !== 'string'))
      problem('info.license', 'needs a name');
  }
  if (!Array.isArray(doc.servers) || doc.servers.some((s) => !isObject(s) || typeof s.url !== 'string'))
    problem('servers', 'must be a list of {url}');
  const components = isObject(doc.components) ? doc.components : {};
  const schemes = isObject(components.securitySchemes) ? components.securitySchemes : {};
  for (const [name, scheme] of Object.entries(schemes)) {
    if (!isObject(scheme) || !SCHEME_TYPES.has(String(scheme.type)))
      problem(`securitySchemes.${name}`, 'has no valid type');
    else if (scheme.type === 'http' && typeof scheme.scheme !== 'string')
      problem(`securitySchemes.${name}`, 'http needs a scheme');
  }
  for (const name of Object.keys(isObject(components.schemas) ? components.schemas : {}))
    if (!/^[a-zA-Z0-9._-]+$/.test(name)) problem(`components.schemas.${name}`, 'name not allowed');
  const tags = new Set(((doc.tags ?? []) as Json[]).map((tag) => tag.name));
  const operationIds = new Set<string>();
  if (!isObject(doc.paths)) problem('paths', 'missing');
  for (const [path, item] of Object.entries(isObject(doc.paths) ? doc.paths : {})) {
    if (!path.startsWith('/')) problem(path, 'a path must start with /');
    if (!isObject(item)) {
      problem(path, 'path item is not an object');
      continue;
    }
    for (const key of Object.keys(item)) if (!PATH_ITEM_KEYS.has(key)) problem(path, `unknown key ${key}`);
    const templated = new Set([...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]));
    for (const [method, op] of Object.entries(item).filter(([key]) => METHODS.has(key))) {
      const at = `${method.toUpperCase()} ${path}`;
      if (!isObject(op)) {
        problem(at, 'operation is not an object');
        continue;
      }
      if (typeof op.operationId === 'string') {
        if (operationIds.has(op.operationId)) problem(at, `operationId ${op.operationId} is not unique`);
        operationIds.add(op.operationId);
      }
      for (const tag of (op.tags ?? []) as string[])
        if (!tags.has(tag)) problem(at, `tag ${tag} is not declared`);
      const parameters = (op.parameters ?? []) as Json[];
      const seen = new Set<string>();
      for (const p of parameters) {
        if (typeof p.name !== 'string' || !PARAMETER_PLACES.has(String(p.in)))
          problem(at, 'parameter needs name and in');
        if (seen.has(`${p.in}:${p.name}`)) problem(at, `parameter ${p.name} twice`);
        seen.add(`${p.in}:${p.name}`);
        if (!isObject(p.schema) && !isObject(p.content)) problem(at, `parameter ${p.name} has no schema`);
        if (p.in === 'path' && p.required !== true) problem(at, `path parameter ${p.name} must be required`);
        if (p.example !== undefined && p.examples !== undefined)
          problem(at, `parameter ${p.name}: example and examples`);
      }
      const pathParameters = new Set(parameters.filter((p) => p.in === 'path').map((p) => p.name));
      for (const name of templated)
        if (!pathParameters.has(name)) problem(at, `{${name}} has no path parameter`);
      for (const name of pathParameters)
        if (!templated.has(name as string)) problem(at, `path parameter ${name} is not in the path`);
      if (op.requestBody !== undefined) {
        const body = op.requestBody as Json;
        if (!isObject(body.content) || Object.keys(body.content).length === 0)
          problem(at, 'requestBody needs content');
        else checkMedia(at, 'requestBody', body.content, problem);
      }
      if (!isObject(op.responses) || Object.keys(op.responses).length === 0) problem(at, 'no responses');
      for (const [status, response] of Object.entries(isObject(op.responses) ? op.responses : {})) {
        if (!/^([1-5](\d\d|XX)|default)$/.test(status)) problem(at, `response key ${status}`);
        if (!isObject(response) || typeof response.description !== 'string')
          problem(at, `response ${status} needs a description`);
        else if (response.content !== undefined)
          checkMedia(at, `response ${status}`, response.content as Json, problem);
      }
      for (const requirement of (op.security ?? []) as Json[])
        for (const [name, scopes] of Object.entries(requirement)) {
          if (!(name in schemes)) problem(at, `security names undeclared scheme ${name}`);
          if (!Array.isArray(scopes) || scopes.some((s) => typeof s !== 'string'))
            problem(at, `security ${name}: scopes must be strings`);
        }
    }
  }
  walk(doc, '#', (node, pointer) => {
    if (typeof node.$ref === 'string' && resolve(doc, node.$ref) === undefined)
      problem(pointer, `$ref ${node.$ref} does not resolve`);
    for (const key of ['$schema', '$id', '$defs'])
      if (key in node) problem(pointer, `${key} inside the document re-roots or hides references`);
  });
  return problems;
}

function checkMedia(
  at: string,
  where: string,
  content: Json,
  problem: (where: string, what: string) => void,
) {
  for (const [type, media] of Object.entries(content)) {
    if (!isObject(media)) problem(at, `${where} ${type} is not an object`);
    else if (media.example !== undefined && media.examples !== undefined)
      problem(at, `${where} ${type}: example and examples`);
  }
}

function walk(node: unknown, pointer: string, visit: (node: Json, pointer: string) => void): void {
  if (Array.isArray(node)) {
    for (const [i, item] of node.entries()) walk(item, `${pointer}/${i}`, visit);
  } else if (isObject(node)) {
    visit(node, pointer);
    for (const [key, value] of Object.entries(node)) walk(value, `${pointer}/${key}`, visit);
  }
}

/** The target of a local JSON pointer reference, or undefined. */
export function resolve(doc: Json, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let node: unknown = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (!isObject(node) || !(key in node)) return undefined;
    node = node[key];
  }
  return node;
}
