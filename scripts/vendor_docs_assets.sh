#!/usr/bin/env bash
# Refresh the API docs' browser assets in genloom/system/docs_assets/ from pinned npm packages, with their
# licences, so that /docs (Swagger UI) and /redoc work with no network. Needs npm; run after changing a version.
set -euo pipefail
SWAGGER_UI_VERSION="5.35.0"   # npm swagger-ui-dist
REDOC_VERSION="2.5.4"         # npm redoc (its standalone bundle)
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/genloom/system/docs_assets"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "swagger-ui-dist@$SWAGGER_UI_VERSION" "redoc@$REDOC_VERSION" >/dev/null
mkdir swagger redoc
tar xzf "swagger-ui-dist-$SWAGGER_UI_VERSION.tgz" -C swagger
tar xzf "redoc-$REDOC_VERSION.tgz" -C redoc
rm -rf "$dest/swagger-ui" "$dest/redoc"
mkdir -p "$dest/swagger-ui" "$dest/redoc"
cp swagger/package/{swagger-ui-bundle.js,swagger-ui.css,favicon-32x32.png,LICENSE,NOTICE} \
   swagger/package/swagger-ui-bundle.js.LICENSE.txt "$dest/swagger-ui/"
cp redoc/package/bundles/redoc.standalone.js redoc/package/bundles/redoc.standalone.js.LICENSE.txt \
   redoc/package/LICENSE "$dest/redoc/"
# ReDoc's side menu draws its "API docs by Redocly" logo from its CDN (the only URL the bundle fetches by
# itself): the logo becomes an inline transparent pixel, so the page requests nothing from another host.
cdn_logo='https://cdn.redoc.ly/redoc/logo-mini.svg'
pixel='data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7'
[[ "$(grep -o "$cdn_logo" "$dest/redoc/redoc.standalone.js" | wc -l)" == 1 ]] \
    || { echo "redoc $REDOC_VERSION: the CDN logo URL is not in the bundle exactly once; check the patch" >&2; exit 1; }
sed -i "s|$cdn_logo|$pixel|" "$dest/redoc/redoc.standalone.js"
printf 'swagger-ui-dist %s\nredoc %s\n' "$SWAGGER_UI_VERSION" "$REDOC_VERSION" > "$dest/VERSIONS"
echo "vendored swagger-ui-dist $SWAGGER_UI_VERSION and redoc $REDOC_VERSION into $dest"
