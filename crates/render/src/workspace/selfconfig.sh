#!/usr/bin/env bash
# selfconfig.sh: ask openclaw-operator to change this OpenClaw instance.
#
# Placed in the workspace by the operator (which rewrites it when it changes); see SELFCONFIG.md.
# Each change is one OpenClawSelfConfig request, created with the pod's ServiceAccount token.
# The HTTP client is Node.js, which every OpenClaw image has.
#
# Environment: OPENCLAW_INSTANCE_NAME, OPENCLAW_NAMESPACE (set by the operator);
# optional overrides OPENCLAW_SELFCONFIG_API (base URL of the API server),
# OPENCLAW_SELFCONFIG_TOKEN_FILE and OPENCLAW_SELFCONFIG_CA_FILE.
#
# Exit codes: 0 applied (or done), 1 usage or API error, 2 denied, 3 failed, 4 no result in time.
set -euo pipefail

usage() {
	cat <<'EOF'
Usage: selfconfig.sh [--no-wait] [--timeout SECONDS] COMMAND [ARGS...]

Change this instance through an OpenClawSelfConfig request:
  add-skill NAME...           install skills (spec.skills)
  remove-skill NAME...        remove skills
  patch-config JSON           deep-merge a JSON object into openclaw.json
  add-file NAME [PATH|-]      add a workspace file; content from PATH, or stdin for - or none
  remove-file NAME...         remove workspace files from the instance's initial files
  set-env NAME=VALUE...       set environment variables
  unset-env NAME...           remove environment variables

Read:
  status REQUEST              print "<request>: <phase>: <message>"
  get-instance                print this instance (JSON)
  help                        this text

A change prints the request's name, then waits until the operator has handled it and prints
"<request>: <phase>: <message>".
  --no-wait            print the request's name and return at once (check it with status)
  --timeout SECONDS    how long to wait (default 300)

Exit codes: 0 applied, 1 usage or API error, 2 denied, 3 failed, 4 still pending at the timeout.
EOF
}

die() {
	printf 'selfconfig.sh: %s\n' "$*" >&2
	exit 1
}

usage_error() {
	printf 'selfconfig.sh: %s\n' "$*" >&2
	printf "Run 'selfconfig.sh help' for usage.\n" >&2
	exit 1
}

# The Node.js helper. Operations (argv after `--`):
#   create COMMAND ARGS...   build the request, POST it, print its name
#   status NAME              GET it, print "<name>: <phase>: <message>"; exit 0 Applied,
#                            2 Denied, 3 Failed, 10 not finished
#   instance                 GET the instance, print it as indented JSON
# Any error: a message on stderr and exit 1.
read -r -d '' JS <<'EOF' || true
'use strict';
const fs = require('fs');
const [op, ...args] = process.argv.slice(1);
const env = process.env;
const ns = env.OPENCLAW_NAMESPACE;
const instance = env.OPENCLAW_INSTANCE_NAME;
const group = '/apis/openclaw.rocks/v1alpha1/namespaces/' + encodeURIComponent(ns);
const fail = (msg) => {
  process.stderr.write('selfconfig.sh: ' + msg + '\n');
  process.exit(1);
};
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

function call(method, path, body) {
  const base = env.OPENCLAW_SELFCONFIG_API.replace(/\/+$/, '');
  let url;
  try { url = new URL(base + path); } catch (e) { fail('invalid API server URL ' + JSON.stringify(base)); }
  let token;
  try { token = fs.readFileSync(env.OPENCLAW_SELFCONFIG_TOKEN_FILE, 'utf8').trim(); }
  catch (e) { fail('cannot read the ServiceAccount token: ' + e.message); }
  const headers = { Authorization: 'Bearer ' + token, Accept: 'application/json' };
  const options = { method, headers, timeout: 30000 };
  if (url.protocol === 'https:') {
    try { options.ca = fs.readFileSync(env.OPENCLAW_SELFCONFIG_CA_FILE); }
    catch (e) { fail('cannot read the cluster CA certificate: ' + e.message); }
  }
  let data;
  if (body !== undefined) {
    data = Buffer.from(JSON.stringify(body));
    headers['Content-Type'] = 'application/json';
    headers['Content-Length'] = data.length;
  }
  const client = require(url.protocol === 'http:' ? 'http' : 'https');
  return new Promise((resolve) => {
    const req = client.request(url, options, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', (e) => fail('reading the answer of the API server: ' + e.message));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch (e) { json = undefined; }
        if (res.statusCode >= 400) {
          const why = isObject(json) && typeof json.message === 'string' && json.message
            ? json.message
            : (text.trim().slice(0, 500) || res.statusMessage || 'no message');
          fail('the API server refused the request (HTTP ' + res.statusCode + '): ' + why);
        }
        if (!isObject(json)) fail('unexpected answer from the API server (HTTP ' + res.statusCode + '): ' + text.slice(0, 200));
        resolve(json);
      });
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 30 s')));
    req.on('error', (e) => fail('cannot reach the API server at ' + base + ': ' + e.message));
    if (data !== undefined) req.write(data);
    req.end();
  });
}

function change(cmd, a) {
  switch (cmd) {
    case 'add-skill': return { addSkills: a };
    case 'remove-skill': return { removeSkills: a };
    case 'remove-file': return { removeWorkspaceFiles: a };
    case 'unset-env': return { removeEnvVars: a };
    case 'set-env':
      return {
        addEnvVars: a.map((kv) => {
          const i = kv.indexOf('=');
          if (i <= 0) fail('set-env: expected NAME=VALUE, got ' + JSON.stringify(kv));
          return { name: kv.slice(0, i), value: kv.slice(i + 1) };
        }),
      };
    case 'patch-config': {
      let patch;
      try { patch = JSON.parse(a[0]); } catch (e) { fail('patch-config: the patch is not valid JSON: ' + e.message); }
      if (!isObject(patch)) fail('patch-config: the patch must be a JSON object ({...}), not ' + (Array.isArray(patch) ? 'an array' : patch === null ? 'null' : 'a ' + typeof patch));
      return { configPatch: patch };
    }
    case 'add-file': {
      const from = a.length > 1 ? a[1] : '-';
      let content;
      try { content = fs.readFileSync(from === '-' ? 0 : from, 'utf8'); }
      catch (e) { fail('add-file: cannot read ' + (from === '-' ? 'standard input' : from) + ': ' + e.message); }
      return { addWorkspaceFiles: { [a[0]]: content } };
    }
    default: return fail('unknown command ' + JSON.stringify(cmd));
  }
}

function summary(sc) {
  const status = isObject(sc.status) ? sc.status : {};
  const phase = typeof status.phase === 'string' && status.phase ? status.phase : 'Pending';
  const message = typeof status.message === 'string' ? status.message.replace(/\s*\n\s*/g, ' ') : '';
  return { phase, line: sc.metadata.name + ': ' + phase + ': ' + message };
}

async function main() {
  switch (op) {
    case 'create': {
      const spec = Object.assign({ instanceRef: instance }, change(args[0], args.slice(1)));
      const created = await call('POST', group + '/openclawselfconfigs', {
        apiVersion: 'openclaw.rocks/v1alpha1',
        kind: 'OpenClawSelfConfig',
        metadata: { generateName: instance + '-sc-' },
        spec,
      });
      process.stdout.write(created.metadata.name + '\n');
      break;
    }
    case 'status': {
      const sc = await call('GET', group + '/openclawselfconfigs/' + encodeURIComponent(args[0]));
      const { phase, line } = summary(sc);
      process.stdout.write(line + '\n');
      process.exitCode = { Applied: 0, Denied: 2, Failed: 3 }[phase] ?? 10;
      break;
    }
    case 'instance': {
      const obj = await call('GET', group + '/openclawinstances/' + encodeURIComponent(instance));
      process.stdout.write(JSON.stringify(obj, null, 2) + '\n');
      break;
    }
    default: fail('internal error: unknown operation ' + JSON.stringify(op));
  }
}
main().catch((e) => fail(e && e.message ? e.message : String(e)));
EOF

node_js() {
	node -e "$JS" -- "$@"
}

wait=1
timeout=300
while (($# > 0)); do
	case $1 in
	--no-wait)
		wait=0
		shift
		;;
	--timeout)
		(($# >= 2)) || usage_error "--timeout needs a number of seconds"
		timeout=$2
		shift 2
		;;
	--timeout=*)
		timeout=${1#--timeout=}
		shift
		;;
	-h | --help)
		usage
		exit 0
		;;
	--)
		shift
		break
		;;
	-*) usage_error "unknown option $1" ;;
	*) break ;;
	esac
done
[[ $timeout =~ ^[0-9]+$ ]] || usage_error "--timeout: not a whole number of seconds: $timeout"

if (($# == 0)); then
	usage
	exit 0
fi
cmd=$1
shift

need_args() { # need_args MIN MAX: the command takes MIN to MAX arguments (MAX -1: any number)
	if ((n_args < $1)) || (($2 >= 0 && n_args > $2)); then
		usage_error "$cmd: wrong number of arguments"
	fi
}
n_args=$#

case $cmd in
help | -h | --help)
	usage
	exit 0
	;;
add-skill | remove-skill | remove-file | unset-env | set-env) need_args 1 -1 ;;
patch-config) need_args 1 1 ;;
add-file) need_args 1 2 ;;
status) need_args 1 1 ;;
get-instance) need_args 0 0 ;;
*) usage_error "unknown command: $cmd" ;;
esac
for arg in "$@"; do
	[[ -n $arg ]] || usage_error "$cmd: an argument is empty"
done

[[ -n ${OPENCLAW_INSTANCE_NAME:-} ]] || die "OPENCLAW_INSTANCE_NAME is not set (the operator sets it when self-configuration is enabled)"
[[ -n ${OPENCLAW_NAMESPACE:-} ]] || die "OPENCLAW_NAMESPACE is not set (the operator sets it when self-configuration is enabled)"
command -v node >/dev/null 2>&1 || die "node is not on PATH"

if [[ -z ${OPENCLAW_SELFCONFIG_API:-} ]]; then
	if [[ -n ${KUBERNETES_SERVICE_HOST:-} ]]; then
		host=$KUBERNETES_SERVICE_HOST
		[[ $host == *:* ]] && host="[$host]"
		OPENCLAW_SELFCONFIG_API="https://$host:${KUBERNETES_SERVICE_PORT:-443}"
	else
		OPENCLAW_SELFCONFIG_API="https://kubernetes.default.svc"
	fi
fi
sa_dir=/var/run/secrets/kubernetes.io/serviceaccount
OPENCLAW_SELFCONFIG_TOKEN_FILE=${OPENCLAW_SELFCONFIG_TOKEN_FILE:-$sa_dir/token}
OPENCLAW_SELFCONFIG_CA_FILE=${OPENCLAW_SELFCONFIG_CA_FILE:-$sa_dir/ca.crt}
export OPENCLAW_SELFCONFIG_API OPENCLAW_SELFCONFIG_TOKEN_FILE OPENCLAW_SELFCONFIG_CA_FILE

case $cmd in
status)
	rc=0
	node_js status "$1" || rc=$?
	# A finished or pending request is a successful read.
	case $rc in 0 | 2 | 3 | 10) exit 0 ;; *) exit 1 ;; esac
	;;
get-instance)
	node_js instance
	exit 0
	;;
esac

name=$(node_js create "$cmd" "$@") || exit 1
printf '%s\n' "$name"
((wait)) || exit 0

deadline=$((SECONDS + timeout))
while :; do
	rc=0
	line=$(node_js status "$name") || rc=$?
	case $rc in
	0 | 2 | 3)
		printf '%s\n' "$line"
		exit "$rc"
		;;
	10) ;;
	*) exit 1 ;;
	esac
	if ((SECONDS >= deadline)); then
		printf '%s\n' "$line"
		printf 'selfconfig.sh: %s is not finished after %s s; check it later with: selfconfig.sh status %s\n' \
			"$name" "$timeout" "$name" >&2
		exit 4
	fi
	sleep 2
done
