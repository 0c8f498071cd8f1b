#!/usr/bin/env bash
# plot.sh LOG_DIR: SVG bar charts from LOG_DIR/bench.json (benchreport's),
# written beside bench.md and linked from a "Plots" section appended to it:
#   iops-<job>.svg        per job, each pair's median IOPS, min-max whiskers
#   cpu-client-<job>.svg  client CPU s/GiB at 4k QD32 (read, write)
#   ai-<job>.svg          IOPS with the server's always_invalidate Y and N
# Needs gnuplot (gnuplot-nox) and jq. Run by tools/bench/run.sh.
set -euo pipefail
dir=$1
json=$dir/bench.json
md=$dir/bench.md
command -v gnuplot >/dev/null || { echo "plot.sh: no gnuplot (apt install gnuplot-nox, or make deps)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

rounds=$(jq -r .rounds "$json")
# Short pair names for the x axis and a colour per pair.
pair_rows='
  def short: if . == "loopback" then "loopback"
             else split("-") | map(if . == "c" then "C" else "Rust" end) | join("/") end;
  def colour: {"c-c": 7829367, "rust-rust": 14517074, "c-rust": 4487082, "rust-c": 13404296}[.] // 10066329;'

# bars FILE TITLE YLABEL XLABEL OUT FORMAT: FILE has "label" median min max
# colour; a bar per line at the median, a whisker from min to max, the
# median printed above in FORMAT.
bars() {
    local data=$1 title=$2 ylabel=$3 xlabel=$4 out=$5 format=$6 n width
    n=$(wc -l < "$data")
    width=$((n > 4 ? 100 * n + 80 : 640))
    gnuplot <<EOF
set terminal svg size $width,400 dynamic font "sans,11" noenhanced
set output '$dir/$out'
set title "$title"
set style fill solid 0.7 border -1
set boxwidth 0.6
set yrange [0:*]
set offsets 0, 0, graph 0.12, 0
set xrange [-0.5:$n-0.5]
set ylabel "$ylabel"
set xlabel "$xlabel"
set grid ytics
unset key
plot '$data' using 0:2:5:xtic(1) with boxes lc rgb variable, \
     '' using 0:3:(0):(\$4-\$3) with vectors nohead lc rgb 'black' lw 1.5, \
     '' using (\$0-0.08):3:(0.16):(0) with vectors nohead lc rgb 'black' lw 1.5, \
     '' using (\$0-0.08):4:(0.16):(0) with vectors nohead lc rgb 'black' lw 1.5, \
     '' using 0:4:(sprintf("$format", \$2)) with labels offset 0,0.8
EOF
}

links=()
for job in $(jq -r '.summary[].job' "$json"); do
    jq -r --arg job "$job" "$pair_rows"'
        . as $doc | ($doc.summary[] | select(.job == $job) | .metrics) as $m
        | $doc.pairs[] | select(.not_run == null) | .pair as $p
        | $m.iops[$p] | select(. != null)
        | "\"\($p | short)\" \(.median) \(.min) \(.max) \($p | colour)"' "$json" > "$tmp/$job.iops"
    [[ -s $tmp/$job.iops ]] || continue
    bars "$tmp/$job.iops" "$job: IOPS, median and min-max over $rounds round(s)" IOPS "client / server" "iops-$job.svg" %.0f
    links+=("![$job IOPS](iops-$job.svg)")
done
for job in randread-4k-qd32 randwrite-4k-qd32; do
    jq -r --arg job "$job" "$pair_rows"'
        . as $doc | ($doc.summary[] | select(.job == $job) | .metrics) as $m
        | $doc.pairs[] | select(.not_run == null) | .pair as $p
        | $m.client_cpu_s_per_gib[$p] | select(. != null)
        | "\"\($p | short)\" \(.median) \(.min) \(.max) \($p | colour)"' "$json" > "$tmp/$job.cpu"
    [[ -s $tmp/$job.cpu ]] || continue
    bars "$tmp/$job.cpu" "$job: client CPU s/GiB (lower is better), median and min-max" "client VM CPU seconds per GiB" "client / server" "cpu-client-$job.svg" %.1f
    links+=("![$job client CPU per GiB](cpu-client-$job.svg)")
done
for job in $(jq -r '.always_invalidate[].job' "$json"); do
    jq -r --arg job "$job" "$pair_rows"'
        . as $doc | ($doc.always_invalidate[] | select(.job == $job) | .pairs) as $a
        | $doc.pairs[] | .pair as $p | select($a[$p] != null)
        | ($a[$p].iops.y | select(. != null) | "\"\($p | short) Y\" \(.median) \(.min) \(.max) \($p | colour)"),
          ($a[$p].iops.n | select(. != null) | "\"\($p | short) N\" \(.median) \(.min) \(.max) 15658734")' "$json" > "$tmp/$job.ai"
    [[ -s $tmp/$job.ai ]] || continue
    bars "$tmp/$job.ai" "$job: IOPS with the server's always_invalidate Y (default) and N" IOPS "client / server, always_invalidate" "ai-$job.svg" %.0f
    links+=("![$job always_invalidate Y and N](ai-$job.svg)")
done

# The section replaces an earlier one (a second run of this script).
if grep -q '^### Plots$' "$md"; then
    sed -i '/^### Plots$/,$d' "$md"
    sed -i '${/^$/d}' "$md"
fi
if ((${#links[@]})); then
    { echo; echo "### Plots"; echo; printf '%s\n\n' "${links[@]}"; } >> "$md"
    sed -i '${/^$/d}' "$md"
fi
echo "plot.sh: ${#links[@]} plot(s) in $dir"
