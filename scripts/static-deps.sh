#!/usr/bin/env bash
# Build the static dependencies of pgboot-static with musl: OpenSSL and libpq from
# Debian's source packages, inih from its source package (or Debian's libinih.a when
# the archive does not serve that source). The result is cached in
# $STATIC_CACHE_DIR/<key>/{include,lib} where <key> names the pinned versions, the
# architecture and a hash of the build options, so a second run only checks a stamp.
#
# Usage: scripts/static-deps.sh          build if needed, print the cache directory
#        scripts/static-deps.sh --dir    print the cache directory only (no build)
# Exit status: 0 ok, 1 failure (download, checksum, build), 2 usage error.
# Run as root on Debian bookworm it installs the tools it needs; otherwise it prints
# the apt-get line to run.
set -euo pipefail

# ---- Pins: the only place the dependency versions are named ------------------------
# bookworm's point-release versions (a security upload may be listed but not served
# by the mirror in use). To move on, take Version and the .dsc's sha256 from the
# Checksums-Sha256 field of `apt-cache showsrc PACKAGE` run with this script's
# deb-src list; a pin the archive no longer serves fails with the download error.
OPENSSL_VERSION=3.0.20-1~deb12u2
OPENSSL_DSC_SHA256=a614474a2773c23b10c0d65f4eccbcf93fdac4749afb7c26d76e1b0340154d3d
POSTGRESQL_PACKAGE=postgresql-15
POSTGRESQL_VERSION=15.18-0+deb12u1
POSTGRESQL_DSC_SHA256=d940b57dd029ef0712212164410fcb51854c883f3fc0c3a11486acdfd2ca5947
INIH_VERSION=55-1
INIH_DSC_SHA256=a1be0694ec4959f5c5dba52a2408c79827d69b2afc29d010f151bee8a341ab04
CJSON_VERSION=1.7.15-1+deb12u4
CJSON_DSC_SHA256=764c2de141d680f4fb4cada30c526dacaa30ead061b9b9c34f2b81e2df0f8439
DEBIAN_SUITES="bookworm bookworm-updates bookworm-security"

# ---- Build options (hashed into the cache key) --------------------------------------
DEPS_CFLAGS="-Os -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables -fno-unwind-tables -fstack-protector-strong"
# A TLS 1.2/1.3 client: ECDHE (P-256/384/521, X25519, X448) with RSA, ECDSA or EdDSA
# certificates, AES-GCM/CCM/CBC, SHA-1/2/3 and HMAC for SCRAM, AES and 3DES for encrypted
# keys; the rest off (finite-field DHE, DSA, old protocols, CMS, OCSP, ...).
# no-chacha no-poly1305: TLS 1.3 servers must offer AES-128-GCM and OpenSSL servers
# (PostgreSQL's) pick AES-256-GCM first, in TLS 1.2 too (45 kB). no-pic: the binary is
# not position-independent anyway (4 kB). no-filenames drops source file names from error
# records (about 40 kB); error strings stay, so TLS failures keep their reason.
# no-secure-memory is needed under musl; no-afalgeng, no-ktls and no-async avoid the
# Linux kernel headers that musl-gcc cannot see. See docs/static-build.md.
OPENSSL_OPTIONS="no-shared no-module no-secure-memory no-afalgeng no-ktls no-async
 no-engine no-dso no-comp no-ssl3 no-tls1 no-tls1_1 no-dtls no-srp no-psk no-srtp
 no-nextprotoneg no-weak-ssl-ciphers no-ct no-ocsp no-cms no-ts no-cmp no-sctp no-fips
 no-legacy no-tests no-ui-console no-idea no-mdc2 no-rc2 no-rc4 no-rc5 no-md4
 no-whirlpool no-seed no-camellia no-aria no-sm2 no-sm3 no-sm4 no-bf no-cast no-gost
 no-dsa no-dh no-ec2m no-siphash no-blake2 no-scrypt no-rmd160 no-ocb no-siv
 no-multiblock no-padlockeng no-capieng no-rfc3779 no-filenames no-dgram no-chacha
 no-poly1305 no-pic"
POSTGRESQL_OPTIONS="--with-ssl=openssl --without-readline --without-zlib --without-icu
 --without-gssapi --without-ldap --without-pam --without-libxml --without-libxslt
 --without-lz4 --without-zstd --without-systemd --without-selinux --without-perl
 --without-python --without-tcl --without-llvm --without-bonjour --disable-nls
 --disable-rpath"
TOOL_PACKAGES="musl-tools dpkg-dev make perl patch libinih-dev"

me=static-deps
top=$(cd "$(dirname "$0")/.." && pwd)
cache_root=${STATIC_CACHE_DIR:-$top/.cache/static}

log() { printf '%s: %s\n' "$me" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# cache_key: versions, machine and a hash of the build options and recipes (the
# build functions' code as bash prints it, so editing a comment keeps the cache).
cache_key() {
	local hash
	hash=$({
		printf '%s\n' "$DEPS_CFLAGS" "$OPENSSL_OPTIONS" "$POSTGRESQL_OPTIONS"
		declare -f trim_openssl build_openssl patch_libpq build_libpq build_inih build_cjson
	} | sha256sum | cut -c1-10)
	printf 'openssl-%s_pq-%s_inih-%s_cjson-%s_%s_%s' "$OPENSSL_VERSION" "$POSTGRESQL_VERSION" \
		"$INIH_VERSION" "$CJSON_VERSION" "$(uname -m)" "$hash" | tr '~+:' '___'
}

# ensure_tools: install (root) or name (non-root) the Debian packages we use.
ensure_tools() {
	local missing=() cmd
	for cmd in musl-gcc make perl patch dpkg-source apt-get sha256sum xz bzip2 strip; do
		command -v "$cmd" >/dev/null || missing+=("$cmd")
	done
	[ -f /usr/include/ini.h ] || missing+=(ini.h)
	[ ${#missing[@]} -eq 0 ] && return 0
	log "missing: ${missing[*]}"
	if [ "$(id -u)" -ne 0 ]; then
		die "run as root: apt-get update && apt-get install -y --no-install-recommends $TOOL_PACKAGES"
	fi
	apt-get update >&2
	# shellcheck disable=SC2086 # TOOL_PACKAGES is a list of words
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $TOOL_PACKAGES >&2
}

# write_sources FILE: deb-src entries for the Debian mirrors this machine already uses
# (deb.debian.org when none is configured), read by apt with private index directories
# so the machine's own index is untouched. Deb822: FILE must end in .sources.
write_sources() {
	local file=$1 uris suite keyring=/usr/share/keyrings/debian-archive-keyring.gpg
	# shellcheck disable=SC2016 # $(...) is apt's format syntax
	uris=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 2>/dev/null |
		awk -v suites=" $DEBIAN_SUITES " 'index(suites, " " $2 " ") { print $1, $2 }' |
		sort -u) || true
	if [ -z "$uris" ]; then
		uris=""
		for suite in $DEBIAN_SUITES; do
			case $suite in
			*-security) uris+="http://deb.debian.org/debian-security $suite"$'\n' ;;
			*) uris+="http://deb.debian.org/debian $suite"$'\n' ;;
			esac
		done
	fi
	: >"$file"
	while read -r uri suite; do
		[ -n "$uri" ] || continue
		printf 'Types: deb-src\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: %s\n\n' \
			"$uri" "$suite" "$keyring" >>"$file"
	done <<<"$uris"
}

# fetch PACKAGE VERSION DSC_SHA256: download into $downloads, check the pinned .dsc
# hash and every file the .dsc lists. Returns 1 when the archive does not serve it.
fetch() {
	local package=$1 version=$2 want=$3 dsc got
	dsc="$downloads/${package}_${version#*:}.dsc"
	log "fetching $package $version"
	if ! (cd "$downloads" && apt-get "${apt_opts[@]}" source --download-only \
		"$package=$version" >"$work/fetch-$package.log" 2>&1); then
		log "could not download $package $version:"
		grep -E '^(E|W):' "$work/fetch-$package.log" | sed 's/^/  /' >&2 || true
		return 1
	fi
	got=$(sha256sum "$dsc" | cut -d' ' -f1)
	[ "$got" = "$want" ] || die "sha256 of $(basename "$dsc") is $got, pinned $want"
	# The .dsc's Checksums-Sha256 lines: " HASH SIZE NAME".
	awk '/^Checksums-Sha256:/ { on = 1; next } /^[^ ]/ { on = 0 } on && NF == 3 { print $1 "  " $3 }' \
		"$dsc" >"$work/$package.sha256"
	[ -s "$work/$package.sha256" ] || die "$(basename "$dsc") lists no sha256 checksums"
	(cd "$downloads" && sha256sum --quiet -c "$work/$package.sha256") >&2 ||
		die "checksum mismatch in $package $version"
	dpkg-source --no-copy -x "$dsc" "$work/$package" >"$work/unpack-$package.log" 2>&1 ||
		{ tail -20 "$work/unpack-$package.log" >&2; die "could not unpack $package"; }
}

# run LOGNAME COMMAND...: run quietly into a log; show its tail on failure.
run() {
	local name=$1
	shift
	if ! "$@" >"$work/$name.log" 2>&1; then
		tail -15 "$work/$name.log" >&2
		die "$name failed (full log: $work/$name.log)"
	fi
}

# trim_openssl: no P-256 assembly (ecp_nistz256, x86_64 and aarch64). Its precomputed table
# alone is 150 kB, the largest object in the binary; P-256 then takes the generic Montgomery
# code that P-384 and P-521 use, whose scalar multiplication for secret scalars is OpenSSL's
# constant-time ladder. The rest of the assembly (AES-NI, GHASH, SHA, BN, X25519) stays.
# shellcheck disable=SC2016 # $ECASM... are build.info variables, not shell ones
trim_openssl() {
	sed -i -E -e '/^ *\$ECASM_(x86_64|aarch64)=/s/ ?ecp_nistz256[-a-z0-9_]*\.[csS]//g' \
		-e '/^ *\$ECDEF_(x86_64|aarch64)=/s/ ?ECP_NISTZ256_ASM//' crypto/ec/build.info
	if [ "$(grep -Ec '^ *\$ECASM_(x86_64|aarch64)=' crypto/ec/build.info)" -ne 2 ] ||
		grep -Eq '^ *\$EC(ASM|DEF)_(x86_64|aarch64)=.*(nistz256|NISTZ256)' crypto/ec/build.info; then
		die "could not take ecp_nistz256 out of OpenSSL's crypto/ec/build.info"
	fi
}

build_openssl() {
	local target
	case $(uname -m) in
	x86_64) target=linux-x86_64 ;;
	aarch64) target=linux-aarch64 ;;
	*) die "no OpenSSL target known for $(uname -m)" ;;
	esac
	log "building OpenSSL (about a minute)"
	cd "$work/openssl"
	trim_openssl
	# Its "built on" string then comes from the changelog: the build is reproducible.
	SOURCE_DATE_EPOCH=$(dpkg-parsechangelog -l debian/changelog -S Timestamp)
	export SOURCE_DATE_EPOCH
	# shellcheck disable=SC2086 # option lists are words
	run openssl-configure env CC=musl-gcc ./Configure "$target" --prefix=/usr/local \
		--openssldir=/etc/ssl --libdir=lib $OPENSSL_OPTIONS $DEPS_CFLAGS
	run openssl-build make -j"$jobs" build_libs
	run openssl-install make install_dev DESTDIR="$work/stage"
	cp -R "$work/stage/usr/local/include/openssl" "$out/include/"
	cp "$work/stage/usr/local/lib/libssl.a" "$work/stage/usr/local/lib/libcrypto.a" "$out/lib/"
}

# patch_libpq: SCRAM's key derivation keys its HMAC once. libpq 15 keys it again for each of
# the 4096 iterations of PBKDF2, and under OpenSSL 3 each keying fetches the digest and
# hashes both pads: 13.8 ms of CPU per connection on this machine against 1.3 ms keyed once
# (bench/pbkdf2.c). The derived key is the same; every test that logs in with a password
# checks it against the server.
patch_libpq() {
	patch -p1 --forward --no-backup-if-mismatch >"$work/libpq-patch.log" 2>&1 <<'PATCH' ||
--- a/src/common/hmac_openssl.c
+++ b/src/common/hmac_openssl.c
@@ -159,7 +159,13 @@
 	if (ctx == NULL)
 		return -1;
 
-	switch (ctx->type)
+	/*
+	 * pgboot: no key keeps the digest and the key of the last call, whose hashed pads
+	 * OpenSSL keeps; with OpenSSL 3 keying again costs a digest fetch and two hashes.
+	 */
+	if (key == NULL)
+		status = HMAC_Init_ex(ctx->hmacctx, NULL, 0, NULL, NULL);
+	else switch (ctx->type)
 	{
 		case PG_MD5:
 			status = HMAC_Init_ex(ctx->hmacctx, key, len, EVP_md5(), NULL);
--- a/src/common/scram-common.c
+++ b/src/common/scram-common.c
@@ -72,7 +72,8 @@
 	/* Subsequent iterations */
 	for (i = 2; i <= iterations; i++)
 	{
-		if (pg_hmac_init(hmac_ctx, (uint8 *) password, password_len) < 0 ||
+		/* pgboot: the key of the first iteration, kept (hmac_openssl.c) */
+		if (pg_hmac_init(hmac_ctx, NULL, 0) < 0 ||
 			pg_hmac_update(hmac_ctx, (uint8 *) Ui_prev, SCRAM_KEY_LEN) < 0 ||
 			pg_hmac_final(hmac_ctx, Ui, sizeof(Ui)) < 0)
 		{
PATCH
		{ cat "$work/libpq-patch.log" >&2; die "could not patch libpq's SCRAM key derivation"; }
}

build_libpq() {
	log "building libpq"
	cd "$work/$POSTGRESQL_PACKAGE"
	patch_libpq
	# shellcheck disable=SC2086
	run libpq-configure ./configure --prefix=/usr --sysconfdir=/etc/postgresql-common \
		CC=musl-gcc CFLAGS="$DEPS_CFLAGS" CPPFLAGS="-I$out/include" LDFLAGS="-L$out/lib" \
		$POSTGRESQL_OPTIONS
	run libpq-headers make -C src/backend generated-headers
	run libpq-common make -C src/common -j"$jobs" libpgcommon_shlib.a
	run libpq-port make -C src/port -j"$jobs" libpgport_shlib.a
	run libpq-build make -C src/interfaces/libpq -j"$jobs" all-static-lib
	cp src/interfaces/libpq/libpq-fe.h src/interfaces/libpq/libpq-events.h \
		src/include/postgres_ext.h src/include/pg_config_ext.h "$out/include/"
	cp src/interfaces/libpq/libpq.a src/common/libpgcommon_shlib.a \
		src/port/libpgport_shlib.a "$out/lib/"
}

# build_inih: from source when served (same defaults as Debian's meson build), else
# Debian's own libinih.a, which links under musl 1.2.3 (it needs only stdio, string,
# malloc and glibc's __ctype_b_loc/fopen64, which musl provides).
build_inih() {
	local have multiarch
	if fetch libinih "$INIH_VERSION" "$INIH_DSC_SHA256"; then
		log "building inih from source"
		cd "$work/libinih"
		# shellcheck disable=SC2086
		run inih-build musl-gcc $DEPS_CFLAGS -c -o ini.o ini.c
		run inih-ar ar rcs "$out/lib/libinih.a" ini.o
		cp ini.h "$out/include/"
		inih_origin="source package libinih $INIH_VERSION built with musl-gcc"
		return 0
	fi
	have=$(dpkg-query -W -f '${Version}' libinih-dev 2>/dev/null) || true
	[ "$have" = "$INIH_VERSION" ] ||
		die "libinih source not served and libinih-dev is '${have:-absent}', pinned $INIH_VERSION"
	multiarch=$(musl-gcc -print-multiarch 2>/dev/null || dpkg-architecture -qDEB_HOST_MULTIARCH)
	log "libinih source not served: using Debian's libinih.a from libinih-dev $have"
	cp "/usr/lib/$multiarch/libinih.a" "$out/lib/"
	cp /usr/include/ini.h "$out/include/"
	inih_origin="Debian binary package libinih-dev $have (/usr/lib/$multiarch/libinih.a, glibc-built)"
}

# build_cjson: cJSON (database.secret_file) from Debian's source package, Debian's patches
# applied, as a static library with its header where Debian puts it (cjson/cJSON.h).
build_cjson() {
	cd "$work/cjson"
	# shellcheck disable=SC2086
	run cjson-build musl-gcc $DEPS_CFLAGS -c -o cJSON.o cJSON.c
	run cjson-ar ar rcs "$out/lib/libcjson.a" cJSON.o
	mkdir -p "$out/include/cjson"
	cp cJSON.h "$out/include/cjson/"
}

# cleanup STATUS: remove the build directory, but keep it (and its logs) on failure.
cleanup() {
	if [ "$1" -eq 0 ]; then
		rm -rf "$work"
	else
		log "build directory kept: $work"
	fi
}

main() {
	local key dir started
	case ${1:-} in
	--dir)
		printf '%s/%s\n' "$cache_root" "$(cache_key)"
		return 0
		;;
	'') ;;
	*)
		printf 'usage: %s [--dir]\n' "$0" >&2
		exit 2
		;;
	esac
	key=$(cache_key)
	dir="$cache_root/$key"
	if [ -f "$dir/.complete" ]; then
		printf '%s\n' "$dir"
		return 0
	fi
	started=$(date +%s)
	ensure_tools
	mkdir -p "$cache_root/downloads"
	exec 9>"$cache_root/.lock"
	flock 9
	if [ -f "$dir/.complete" ]; then # built by a concurrent run while we waited
		printf '%s\n' "$dir"
		return 0
	fi
	log "building $key"
	rm -rf "$cache_root"/build.* # failed builds' leftovers
	downloads="$cache_root/downloads"
	work=$(mktemp -d "$cache_root/build.XXXXXX")
	out="$work/out"
	mkdir -p "$out/include" "$out/lib" "$work/lists/partial" "$work/cache/archives/partial"
	trap 'cleanup $?' EXIT
	jobs=$(nproc 2>/dev/null || echo 2)
	write_sources "$work/deb-src.sources"
	apt_opts=(-o "Dir::Etc::sourcelist=$work/deb-src.sources" -o Dir::Etc::sourceparts=-
		-o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache"
		-o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=)
	[ "$(id -u)" -ne 0 ] || apt_opts+=(-o APT::Sandbox::User=root)
	run apt-update apt-get "${apt_opts[@]}" update
	fetch openssl "$OPENSSL_VERSION" "$OPENSSL_DSC_SHA256" ||
		die "pinned openssl $OPENSSL_VERSION is not served; see 'apt-cache showsrc openssl'"
	fetch "$POSTGRESQL_PACKAGE" "$POSTGRESQL_VERSION" "$POSTGRESQL_DSC_SHA256" ||
		die "pinned $POSTGRESQL_PACKAGE $POSTGRESQL_VERSION is not served"
	fetch cjson "$CJSON_VERSION" "$CJSON_DSC_SHA256" ||
		die "pinned cjson $CJSON_VERSION is not served"
	build_openssl
	build_libpq
	build_inih
	build_cjson
	cat >"$out/BUILDINFO" <<-EOF
		openssl $OPENSSL_VERSION (.dsc sha256 $OPENSSL_DSC_SHA256)
		$POSTGRESQL_PACKAGE $POSTGRESQL_VERSION (.dsc sha256 $POSTGRESQL_DSC_SHA256)
		inih: $inih_origin
		cjson $CJSON_VERSION (.dsc sha256 $CJSON_DSC_SHA256)
		musl $(dpkg-query -W -f '${Version}' musl-dev 2>/dev/null || echo unknown)
		cflags $DEPS_CFLAGS
	EOF
	touch "$out/.complete"
	rm -rf "$dir"
	mv "$out" "$dir"
	log "built $key in $(($(date +%s) - started)) s"
	printf '%s\n' "$dir"
}

main "$@"
