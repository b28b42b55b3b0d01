# tap.sh: a few lines of TAP for the integration scripts (source it).
#   ok_if "description" command...     passes when the command exits 0
#   expect_eq "description" expected actual
#   expect_match "description" regex text
_tap_n=0
_tap_fail=0
ok_if() {
  local desc=$1; shift
  _tap_n=$((_tap_n + 1))
  if "$@" >/dev/null 2>&1; then echo "ok $_tap_n - $desc"; else echo "not ok $_tap_n - $desc"; _tap_fail=$((_tap_fail + 1)); fi
}
expect_eq() {
  _tap_n=$((_tap_n + 1))
  if [ "$2" == "$3" ]; then echo "ok $_tap_n - $1"
  else echo "not ok $_tap_n - $1"; echo "#   expected: $2"; echo "#   got:      $3"; _tap_fail=$((_tap_fail + 1)); fi
}
expect_match() {
  _tap_n=$((_tap_n + 1))
  if printf '%s' "$3" | grep -Eq -- "$2"; then echo "ok $_tap_n - $1"
  else echo "not ok $_tap_n - $1"; echo "#   expected to match: $2"; printf '%s\n' "$3" | head -5 | sed 's/^/#   got: /'; _tap_fail=$((_tap_fail + 1)); fi
}
tap_done() { echo "1..$_tap_n"; [ "$_tap_fail" -eq 0 ]; }
