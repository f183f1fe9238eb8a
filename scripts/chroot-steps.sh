# Steps run in a chroot, each reported on one line and counted; sourced by
# scripts/bundle-check.sh and scripts/wheel-check.sh inside their private namespaces.
# The caller sets rootfs (the root) and chroot_path (PATH inside it); failures counts.
chroot=$(command -v chroot)
failures=0

run() { # run EXPECTED LABEL COMMAND...: runs COMMAND in the chroot, its output to a log;
    # EXPECTED is 0, fail (any nonzero status) or ran (started: not 126/127, the loader's)
    local expected=$1 label=$2 status=0
    shift 2
    local log="$rootfs/tmp/$label.log" start=$SECONDS
    env -i HOME=/tmp LANG=C.UTF-8 PATH="$chroot_path" "$chroot" "$rootfs" "$@" >"$log" 2>&1 || status=$?
    if { [ "$expected" = ran ] && [ "$status" -lt 126 ]; } || { [ "$expected" = 0 ] && [ "$status" = 0 ]; } ||
        { [ "$expected" = fail ] && [ "$status" != 0 ]; }; then
        echo "  ok    $label (exit $status, $((SECONDS - start)) s)"
        return 0
    fi
    echo "  FAIL  $label: exit $status, expected $expected; its output ends:"
    tail -n 15 "$log" | sed 's/^/          /'
    failures=$((failures + 1))
    return 1
}

expect_in() { # expect_in LABEL PATTERN: the step's log must match the extended regex
    if grep -Eq "$2" "$rootfs/tmp/$1.log"; then return 0; fi
    echo "  FAIL  $1: its output lacks /$2/"
    failures=$((failures + 1))
}
