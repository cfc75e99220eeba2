// Check vercel.json files with Vercel's own packages, as `vercel build` reads them.
//
//   NODE_PATH=.tools/vercel/node_modules node tools/vercel/check-vercel-json.cjs FILE...
//
// For each file: the schema of vercel.json as the CLI assembles it (routes, rewrites,
// headers ... from @vercel/routing-utils, functions from @vercel/build-utils), then
// routing-utils' own route checks and compilation (getTransformedRoutes), then the
// `functions` patterns against the api/*.py files next to the file, the way the CLI
// matches them (minimatch, first pattern wins, every pattern used once at least). Prints
// one JSON object: {FILE: {"errors": [...], "routes": compiled routes, "functions":
// {entry point: {"pattern": ..., "excluded": [other entry points it leaves out]}}}}.

"use strict";

const fs = require("fs");
const path = require("path");
const Ajv = require("ajv");
const routing = require("@vercel/routing-utils");
const { functionsSchema } = require("@vercel/build-utils");
const { minimatch } = require("minimatch");

const schema = {
  type: "object",
  additionalProperties: true,
  properties: {
    routes: routing.routesSchema,
    rewrites: routing.rewritesSchema,
    redirects: routing.redirectsSchema,
    headers: routing.headersSchema,
    cleanUrls: routing.cleanUrlsSchema,
    trailingSlash: routing.trailingSlashSchema,
    functions: functionsSchema,
    framework: { type: ["string", "null"] },
  },
};
const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);

function check(file) {
  const errors = [];
  const config = JSON.parse(fs.readFileSync(file, "utf8"));
  if (!validate(config)) {
    for (const error of validate.errors) {
      errors.push(`schema: ${error.instancePath || "/"} ${error.message}`);
    }
  }
  const hasRoutes = config.routes !== undefined;
  for (const key of ["rewrites", "redirects", "headers", "cleanUrls", "trailingSlash"]) {
    if (hasRoutes && config[key] !== undefined) {
      errors.push(`\`routes\` cannot be used with \`${key}\``);
    }
  }
  const transformed = routing.getTransformedRoutes(config);
  if (transformed.error) {
    errors.push(`routes: ${JSON.stringify(transformed.error)}`);
  }
  const apiDir = path.join(path.dirname(file), "api");
  const entryPoints = fs.existsSync(apiDir)
    ? fs.readdirSync(apiDir).filter((name) => name.endsWith(".py")).map((name) => `api/${name}`)
    : [];
  const patterns = Object.keys(config.functions || {});
  const used = new Set();
  const functions = {};
  for (const entryPoint of entryPoints.sort()) {
    const pattern = patterns.find((p) => p === entryPoint || minimatch(entryPoint, p));
    if (pattern === undefined) {
      errors.push(`functions: no pattern matches ${entryPoint}`);
      continue;
    }
    used.add(pattern);
    const exclude = config.functions[pattern].excludeFiles;
    const excluded = exclude ? entryPoints.filter((other) => minimatch(other, exclude)) : [];
    functions[entryPoint] = { pattern, excluded };
  }
  for (const pattern of patterns) {
    if (!used.has(pattern)) {
      errors.push(`functions: pattern ${pattern} matches no entry point`);
    }
  }
  return { errors, routes: transformed.routes, functions };
}

const result = {};
for (const file of process.argv.slice(2)) {
  result[file] = check(file);
}
process.stdout.write(JSON.stringify(result, null, 2) + "\n");
