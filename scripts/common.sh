# Shell helpers shared by the scripts here (source it: `. "$(dirname "$0")/common.sh"`).

complete() {  # a finished run (its latest checkpoint at the config's last step) or a shipped copy of one
  python -c 'import json, os, sys; run = sys.argv[1]
marker = run + "/latest.json" if os.path.exists(run + "/latest.json") else run + "/state.json"
sys.exit(json.load(open(marker))["step"] != json.load(open(run + "/config.json"))["train"]["steps"])' "$1" 2>/dev/null
}
