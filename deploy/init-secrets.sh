#!/bin/sh
# Creates every key and password the compose stack (deploy/compose.yaml) reads, in
# deploy/secrets/ (or the directory given), and deploy/.env beside it. Never overwrites: a
# file that exists is kept (the key commands refuse to overwrite keys anyway).
#   usage: deploy/init-secrets.sh [SECRETS_DIR]        (drugfree and its python3 on PATH)
# Run as root to also hand each file to the user of the container that reads it (the app's
# 10001, PostgreSQL's 999, Grafana's 472); otherwise it prints the chown commands to run.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-$here/secrets}
envfile=$(dirname "$dir")/.env
umask 077
mkdir -p "$dir"

rand() { python3 -c 'import secrets; print(secrets.token_hex(24))'; }
keep() { test -e "$dir/$1"; }

# The payload encryption keys (AES-256-GCM, named; `drugfree keys rotate` adds one).
keep payload_keys.json || drugfree keys new --file "$dir/payload_keys.json" --lang en
# Ed25519 key pairs: people's tokens (the sign-on: the API and codec server trust signon.jwks.json;
# `drugfree auth issue --key signon.pem` issues tokens), the API's command proofs (front-door:
# workers trust front-door.jwks.json), the worker's relay key, the audit checkpoints' key.
for name in signon front-door relay checkpoint; do
    keep "$name.pem" || drugfree auth keygen --out "$dir" --name "$name" --lang en
done
# Database passwords, and the libpq password files (PGPASSFILE) the app processes connect with.
keep db_owner_password || rand > "$dir/db_owner_password"
keep app_db_password || rand > "$dir/app_db_password"
keep grafana_admin_password || rand > "$dir/grafana_admin_password"
printf 'app-db:5432:drugfree:drugfree:%s\n' "$(cat "$dir/db_owner_password")" > "$dir/db_owner.pgpass"
printf 'app-db:5432:drugfree:drugfree_app:%s\n' "$(cat "$dir/app_db_password")" > "$dir/app_db.pgpass"
# Values that can only travel as environment variables (compose interpolates them from .env).
if ! test -e "$envfile"; then
    printf 'TEMPORAL_DB_PASSWORD=%s\nDRUGFREE_UI_SECRET=%s\n' "$(rand)" "$(rand)" > "$envfile"
fi

owners() {
    echo "10001:10001 payload_keys.json signon.jwks.json front-door.pem front-door.jwks.json"
    echo "10001:10001 relay.pem checkpoint.pem db_owner.pgpass app_db.pgpass"
    echo "999:999 db_owner_password"
    echo "472:472 grafana_admin_password"
}
if [ "$(id -u)" = 0 ]; then
    owners | while read -r who files; do (cd "$dir" && chown "$who" $files); done
else
    echo "as root, give each file to the container user that reads it:"
    owners | while read -r who files; do echo "  (cd $dir && sudo chown $who $files)"; done
fi
echo "secrets in $dir; TEMPORAL_DB_PASSWORD and DRUGFREE_UI_SECRET in $envfile"
