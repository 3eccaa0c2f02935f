# The plumbing shared by the cached Go builds (../kube/build.sh, ../gitops/build.sh); they source this file.
# The sourcing script defines: here (its directory, holding go.mod), cache (the cache root), out (the output
# directory), bin (its bin directory, what the script prints last), log and up_to_date (whether $bin is
# complete for the current inputs).

# Prints $bin and exits when it is up to date; otherwise waits for any other build holding the lock file $1,
# prints $bin and exits if that build made it, and else sets up the Go environment for building.
go_build_prepare() {
    local lock="$1"
    if up_to_date; then
        echo "$bin"
        exit 0
    fi
    mkdir -p "$out"
    # One build at a time per cache (tests started in parallel would otherwise all build).
    if command -v flock >/dev/null 2>&1; then
        exec 9>"$lock"
        flock -n 9 || { log "another build holds $lock; waiting"; flock 9; }
        if up_to_date; then
            echo "$bin"
            exit 0
        fi
    fi
    export GOMODCACHE="$cache/go/mod"
    export GOCACHE="$cache/go/build"
    export CGO_ENABLED=0
    # Use go.mod/go.sum exactly as committed; never rewrite them during a build.
    export GOFLAGS="-mod=readonly -buildvcs=false"
}

# Downloads the modules of $here and makes an empty $tmp to build into (the build started at $start).
go_build_modules() {
    (cd "$here" && go mod download)
    log "modules ready after $((SECONDS - start))s; compiling"
    tmp="$out/bin.tmp"
    rm -rf "$tmp"
    mkdir -p "$tmp"
}

# Checks that $tmp holds every program named in the arguments and makes it the new $bin.
go_build_install() {
    local p
    for p in "$@"; do
        [[ -x "$tmp/$p" ]] || { log "go build produced no $p"; exit 1; }
    done
    rm -rf "$bin"
    mv "$tmp" "$bin"
}
