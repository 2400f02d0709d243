# Shell helpers shared by the scripts here (source it: `. "$(dirname "$0")/common.sh"`).

complete() {  # a finished run: its latest checkpoint is at the config's last step
  python -c 'import json, sys; run = sys.argv[1]
sys.exit(json.load(open(run + "/latest.json"))["step"] != json.load(open(run + "/config.json"))["train"]["steps"])' "$1" 2>/dev/null
}
