// bench_plot: one SVG from the benchmark JSON of a GPU check (tools/gpu-check.sh).
//   bench_plot --attention bench_attention.json --decode bench_decode.json --peers peers.json
//              -o bench.svg [--markdown tables.md] [--title TEXT]
//   bench_plot --self-test
// Inputs (any subset): Google Benchmark JSON of bench/bench_attention.cu (names
// dense/d<D>/s<S>/<full|causal>, unfused_cublas/..., counter "TFLOP/s") and of
// bench/bench_decode.cu (decode/<layout>/b<B>/sk<S>, counters "GB/s", "copy_GB/s"), and
// bench_peers.py's {meta, rows}. Panels: TFLOP/s against sequence length, one per (head dim,
// causal), attnkit and every peer; decode GB/s against key length with the measured copy
// bandwidth as a dashed line. Files cut short by a timeout are read up to their last complete
// entry. --markdown also writes the benchmark tables summary.md shows. C++17, no dependencies.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "mini_json.hpp"

namespace bench_plot {
namespace {

using mini_json::Value;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---- inputs ------------------------------------------------------------------------------

/// One benchmark of a Google Benchmark JSON file (repetitions averaged, or their mean).
struct BenchRow {
  std::string name;                // run name without /min_time:..., /iterations:..., /manual_time
  std::vector<std::string> parts;  // `name` split at '/'
  double time = kNaN;
  std::string unit, label;
  std::map<std::string, double> counters;  // every other number member ("TFLOP/s", "GB/s", ...)
  std::string error;                       // SkipWithError's message: listed, never plotted
};

struct Input {
  std::string file;  // as given on the command line
  Value doc;
  bool ok = false;
};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep)) out.push_back(cur);
  return out;
}

/// \brief "dense/d128/s1024/full/min_time:0.200/manual_time" -> "dense/d128/s1024/full".
std::string clean_name(const std::string& name) {
  std::string out;
  for (const std::string& part : split(name, '/')) {
    if (part.find(':') != std::string::npos || part == "manual_time" || part == "real_time" || part == "process_time") continue;
    out += (out.empty() ? "" : "/") + part;
  }
  return out;
}

/// \brief The number after `prefix` in a name part ("d128" with "d" -> 128), or NaN.
double tagged(const std::string& part, const std::string& prefix) {
  if (part.size() <= prefix.size() || part.compare(0, prefix.size(), prefix) != 0) return kNaN;
  const std::string digits = part.substr(prefix.size());
  if (digits.find_first_not_of("0123456789.") != std::string::npos) return kNaN;
  return std::strtod(digits.c_str(), nullptr);
}

Input load(const std::string& file, std::vector<std::string>* warnings) {
  Input in;
  in.file = file;
  std::ifstream f(file, std::ios::binary);
  if (!f) {
    warnings->push_back("cannot read " + file);
    return in;
  }
  std::stringstream text;
  text << f.rdbuf();
  mini_json::Result r = mini_json::parse(text.str(), /*lenient=*/true);
  if (!r.ok) {
    warnings->push_back(file + ": " + r.error);
    return in;
  }
  if (r.truncated) warnings->push_back(file + " is cut short (a timeout?): its complete entries are used");
  in.doc = std::move(r.value);
  in.ok = true;
  return in;
}

std::vector<BenchRow> gbench_rows(const Value& doc) {
  static const char* const kNotCounters[] = {"family_index", "per_family_instance_index", "repetitions", "repetition_index",
                                             "threads", "iterations", "real_time", "cpu_time"};
  std::vector<BenchRow> rows;
  std::map<std::string, std::pair<size_t, int>> index;  // name -> (row, iterations averaged; -1: a mean)
  const Value* list = doc.find("benchmarks");
  if (list == nullptr || !list->is_array()) return rows;
  for (const Value& b : list->array) {
    if (!b.is_object() || b.truncated) continue;
    const bool aggregate = b.str("run_type") == "aggregate";
    if (aggregate && b.str("aggregate_name") != "mean") continue;
    BenchRow row;
    row.name = clean_name(b.str("run_name", b.str("name")));
    row.parts = split(row.name, '/');
    row.time = b.num("real_time");
    row.unit = b.str("time_unit");
    row.label = b.str("label");
    if (b.flag("error_occurred")) {
      row.error = b.str("error_message", "error");
      rows.push_back(std::move(row));
      continue;
    }
    for (const auto& [key, v] : b.object) {
      const bool skip = std::any_of(std::begin(kNotCounters), std::end(kNotCounters), [&](const char* k) { return key == k; });
      if (v.is_number() && !skip) row.counters[key] = v.number;
    }
    auto it = index.find(row.name);
    if (it == index.end()) {
      index[row.name] = {rows.size(), aggregate ? -1 : 1};
      rows.push_back(std::move(row));
      continue;
    }
    auto& [at, n] = it->second;
    if (aggregate) {  // the mean replaces the repetitions
      rows[at] = std::move(row);
      n = -1;
    } else if (n > 0) {  // running average of the repetitions
      BenchRow& acc = rows[at];
      acc.time = (acc.time * n + row.time) / (n + 1);
      for (auto& [key, value] : acc.counters) {
        if (row.counters.count(key)) value = (value * n + row.counters[key]) / (n + 1);
      }
      ++n;
    }
  }
  return rows;
}

// ---- panels ------------------------------------------------------------------------------

struct Series {
  std::string name, color_key;  // peers keep their color across panels ("flex", "flex b8")
  bool ours = false;
  std::vector<std::pair<double, double>> points;  // (x, y), sorted by x
};

struct Panel {
  std::string title, x_label, y_label;
  std::vector<Series> series;
  double ref_y = kNaN;  // horizontal reference line (decode: copy bandwidth)
  std::string ref_label;
};

void add_point(Panel* p, const std::string& series, const std::string& color_key, bool ours, double x, double y) {
  if (!(x > 0) || !std::isfinite(y)) return;
  auto it = std::find_if(p->series.begin(), p->series.end(), [&](const Series& s) { return s.name == series; });
  if (it == p->series.end()) {
    p->series.push_back(Series{series, color_key, ours, {}});
    it = p->series.end() - 1;
  }
  auto& pts = it->points;
  auto at = std::find_if(pts.begin(), pts.end(), [&](const auto& q) { return q.first == x; });
  if (at != pts.end()) {
    at->second = y;  // a repeated point: the last one wins
  } else {
    pts.emplace_back(x, y);
    std::sort(pts.begin(), pts.end());
  }
}

struct Plot {
  std::vector<Panel> panels;
  std::vector<std::string> sources, notes;
};

/// \brief Adds `file`'s "note" (at the top, in "context" or in "meta"; the sample data say
/// "synthetic" there) to the plot's notes, once per text.
void add_note(Plot* plot, const Input& in) {
  std::string note;
  for (const Value* v : {&in.doc, in.doc.find("context"), in.doc.find("meta")}) {
    if (v != nullptr && !v->str("note").empty()) note = v->str("note");
  }
  if (note.empty()) return;
  for (std::string& n : plot->notes) {
    if (n.compare(0, note.size() + 2, note + " (") == 0) {
      n.insert(n.size() - 1, ", " + in.file);
      return;
    }
  }
  plot->notes.push_back(note + " (" + in.file + ")");
}

Plot build(const Input* attention, const Input* decode, const Input* peers) {
  Plot plot;
  std::map<std::pair<int, int>, Panel> att;  // (head dim, causal)
  auto att_panel = [&](int d, bool causal) -> Panel& {
    Panel& p = att[{d, causal ? 1 : 0}];
    if (p.title.empty()) {
      p.title = "attention d" + std::to_string(d) + (causal ? " causal" : " full") + ": TFLOP/s vs sequence length";
      p.x_label = "sequence length (batch = 16k / S)";
      p.y_label = "TFLOP/s";
    }
    return p;
  };
  Panel dec;
  dec.title = "decode d128, Hq 32 / Hkv 8: GB/s vs key length";
  dec.x_label = "keys per sequence";
  dec.y_label = "GB/s";
  double copy_sum = 0.0;
  int copy_n = 0;

  for (const Input* in : {attention, decode}) {
    if (in == nullptr || !in->ok) continue;
    const std::vector<BenchRow> rows = gbench_rows(in->doc);
    const Value* ctx = in->doc.find("context");
    plot.sources.push_back(in->file + ": " + std::to_string(rows.size()) + " results" +
                           (ctx != nullptr ? ", " + ctx->str("host_name", "?") + ", " + ctx->str("date") : ""));
    add_note(&plot, *in);
    for (const BenchRow& r : rows) {
      const auto& p = r.parts;
      if (p.empty() || !r.error.empty()) continue;
      const bool dense = p[0] == "dense", unfused = p[0] == "unfused_cublas";
      if ((dense || unfused) && p.size() >= 4 && r.counters.count("TFLOP/s")) {
        const double d = tagged(p[1], "d"), s = tagged(p[2], "s");
        if (std::isnan(d) || std::isnan(s) || (p[3] != "causal" && p[3] != "full")) continue;
        const std::string name = dense ? "attnkit" : "attnkit unfused cuBLAS";
        add_point(&att_panel(static_cast<int>(d), p[3] == "causal"), name, name, true, s, r.counters.at("TFLOP/s"));
      } else if (p[0] == "decode" && p.size() >= 4 && r.counters.count("GB/s")) {
        const std::string name = "attnkit " + p[1] + " " + p[2];
        add_point(&dec, name, name, true, tagged(p[3], "sk"), r.counters.at("GB/s"));
        const auto copy = r.counters.find("copy_GB/s");
        if (copy != r.counters.end() && copy->second > 0) {
          copy_sum += copy->second;
          ++copy_n;
        }
      }
    }
  }
  if (peers != nullptr && peers->ok) {
    const Value* meta = peers->doc.find("meta");
    const Value* rows = peers->doc.find("rows");
    const std::string dtype = meta != nullptr ? meta->str("dtype", "bf16") : "bf16";
    const std::string tail = dtype == "bf16" ? "" : " (" + dtype + ")";  // attnkit's benchmarks are bf16
    static const std::vector<Value> kNone;
    size_t used = 0, n = 0;
    for (const Value& r : rows != nullptr && rows->is_array() ? rows->array : kNone) {
      if (!r.is_object() || r.truncated) continue;
      ++n;
      const std::string kind = r.str("kind"), peer = r.str("peer");
      const double value = r.num("value");
      if (kind == "dense" && r.str("unit") == "TFLOP/s" && std::isfinite(value)) {
        add_point(&att_panel(static_cast<int>(r.num("d", 0)), r.flag("causal")), peer + tail, peer, false, r.num("sq"), value);
        ++used;
      } else if (kind == "decode" && r.str("unit") == "GB/s" && std::isfinite(value)) {
        add_point(&dec, peer + " b" + std::to_string(static_cast<int>(r.num("b", 0))) + tail, peer, false, r.num("sk"), value);
        ++used;
      }
    }
    plot.sources.push_back(peers->file + ": " + std::to_string(n) + " rows, " + std::to_string(used) + " plotted" +
                           (meta != nullptr ? "; " + meta->str("gpu", "?") + ", torch " + meta->str("torch", "?") + ", " + dtype : ""));
    add_note(&plot, *peers);
  }
  for (auto& [key, p] : att) {
    if (!p.series.empty()) plot.panels.push_back(std::move(p));
  }
  if (copy_n > 0) {
    dec.ref_y = copy_sum / copy_n;
    char buf[64];
    std::snprintf(buf, sizeof buf, "device copy %.0f GB/s", dec.ref_y);
    dec.ref_label = buf;
  }
  if (!dec.series.empty()) plot.panels.push_back(std::move(dec));
  return plot;
}

// ---- SVG ---------------------------------------------------------------------------------

std::string xml(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string fmt(double v, const char* format = "%g") {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

/// \brief A 1, 2, 2.5 or 5 times a power of ten step that cuts [0, max] into about `n` ticks.
double nice_step(double max, int n = 5) {
  if (!(max > 0)) return 1.0;
  const double raw = max / n, mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 2.5, 5.0}) {
    if (raw <= m * mag * (1 + 1e-9)) return m * mag;
  }
  return 10.0 * mag;
}

/// \brief Tick label of a power of two: 512, 1k, 16k, 128k.
std::string pow2_label(double x) {
  if (x >= 1024 && std::fmod(x, 1024.0) == 0) return fmt(x / 1024) + "k";
  return fmt(x);
}

/// \brief attnkit is always red; every other color key takes the next palette entry.
const char* color_of(const std::string& key, std::map<std::string, size_t>* keys) {
  static const char* const kPalette[] = {"#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
                                         "#bcbd22", "#7f7f7f", "#393b79", "#637939", "#e7ba52", "#843c39"};
  if (key == "attnkit") return "#d62728";
  if (!keys->count(key)) keys->emplace(key, keys->size());
  return kPalette[keys->at(key) % (sizeof kPalette / sizeof kPalette[0])];
}

constexpr int kPanelW = 620, kPanelH = 370, kLegendW = 190;

void draw_panel(std::ostream& o, const Panel& p, int ox, int oy, std::map<std::string, size_t>* colors) {
  const double x0 = ox + 66, x1 = ox + kPanelW - kLegendW, y0 = oy + 38, y1 = oy + kPanelH - 48;
  o << "<g class=\"panel\">\n<rect x=\"" << ox + 4 << "\" y=\"" << oy + 4 << "\" width=\"" << kPanelW - 8 << "\" height=\""
    << kPanelH - 8 << "\" fill=\"#fff\" stroke=\"#ccc\"/>\n";
  o << "<text class=\"title\" x=\"" << ox + 14 << "\" y=\"" << oy + 24 << "\">" << xml(p.title) << "</text>\n";
  double xmin = 1e300, xmax = 0, ymax = std::isfinite(p.ref_y) ? p.ref_y : 0;
  for (const Series& s : p.series) {
    for (const auto& [x, y] : s.points) {
      xmin = std::min(xmin, x);
      xmax = std::max(xmax, x);
      ymax = std::max(ymax, y);
    }
  }
  int lo = static_cast<int>(std::floor(std::log2(xmin))), hi = static_cast<int>(std::ceil(std::log2(xmax)));
  if (lo == hi) --lo, ++hi;
  const double step = nice_step(ymax * 1.05), ytop = std::max(step, std::ceil(ymax * 1.05 / step) * step);
  auto X = [&](double x) { return x0 + 10 + (std::log2(x) - lo) / (hi - lo) * (x1 - x0 - 20); };
  auto Y = [&](double y) { return y1 - y / ytop * (y1 - y0); };
  for (double t = 0; t <= ytop * (1 + 1e-9); t += step) {  // y grid and labels
    o << "<line x1=\"" << x0 << "\" y1=\"" << fmt(Y(t), "%.1f") << "\" x2=\"" << x1 << "\" y2=\"" << fmt(Y(t), "%.1f")
      << "\" stroke=\"#eee\"/><text class=\"tick\" x=\"" << x0 - 6 << "\" y=\"" << fmt(Y(t) + 4, "%.1f")
      << "\" text-anchor=\"end\">" << fmt(t) << "</text>\n";
  }
  const int every = hi - lo > 9 ? 2 : 1;
  for (int e = lo; e <= hi; e += every) {  // x ticks at powers of two
    const double x = X(std::ldexp(1.0, e));
    o << "<line x1=\"" << fmt(x, "%.1f") << "\" y1=\"" << y1 << "\" x2=\"" << fmt(x, "%.1f") << "\" y2=\"" << y1 + 5
      << "\" stroke=\"#333\"/><text class=\"tick\" x=\"" << fmt(x, "%.1f") << "\" y=\"" << y1 + 18
      << "\" text-anchor=\"middle\">" << pow2_label(std::ldexp(1.0, e)) << "</text>\n";
  }
  o << "<line x1=\"" << x0 << "\" y1=\"" << y1 << "\" x2=\"" << x1 << "\" y2=\"" << y1 << "\" stroke=\"#333\"/>\n"
    << "<line x1=\"" << x0 << "\" y1=\"" << y0 << "\" x2=\"" << x0 << "\" y2=\"" << y1 << "\" stroke=\"#333\"/>\n";
  o << "<text class=\"axis\" x=\"" << (x0 + x1) / 2 << "\" y=\"" << y1 + 36 << "\" text-anchor=\"middle\">" << xml(p.x_label)
    << " (log scale)</text>\n";
  o << "<text class=\"axis\" transform=\"translate(" << ox + 20 << "," << (y0 + y1) / 2
    << ") rotate(-90)\" text-anchor=\"middle\">" << xml(p.y_label) << "</text>\n";
  if (std::isfinite(p.ref_y)) {
    o << "<line class=\"reference\" x1=\"" << x0 << "\" y1=\"" << fmt(Y(p.ref_y), "%.1f") << "\" x2=\"" << x1 << "\" y2=\""
      << fmt(Y(p.ref_y), "%.1f") << "\" stroke=\"#555\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\n"
      << "<text class=\"tick\" x=\"" << x1 - 4 << "\" y=\"" << fmt(Y(p.ref_y) - 5, "%.1f") << "\" text-anchor=\"end\">"
      << xml(p.ref_label) << "</text>\n";
  }
  const size_t fits = static_cast<size_t>((y1 - y0) / 17);
  for (size_t i = 0; i < p.series.size(); ++i) {
    const Series& s = p.series[i];
    const char* c = color_of(s.color_key, colors);
    const char* width = s.ours ? "2.8" : "1.6";
    o << "<polyline class=\"series\" fill=\"none\" stroke=\"" << c << "\" stroke-width=\"" << width << "\" points=\"";
    for (const auto& [x, y] : s.points) o << fmt(X(x), "%.1f") << "," << fmt(Y(y), "%.1f") << " ";
    o << "\"><title>" << xml(s.name) << "</title></polyline>\n";
    for (const auto& [x, y] : s.points) {
      o << "<circle cx=\"" << fmt(X(x), "%.1f") << "\" cy=\"" << fmt(Y(y), "%.1f") << "\" r=\"" << (s.ours ? 3.5 : 2.5)
        << "\" fill=\"" << c << "\"><title>" << xml(s.name) << ": " << fmt(x) << ", " << fmt(y, "%.1f") << " "
        << xml(p.y_label) << "</title></circle>\n";
    }
    if (i + 1 < fits || (i + 1 == fits && p.series.size() == fits)) {  // the legend
      const double ly = y0 + 8 + 17.0 * i;
      o << "<line x1=\"" << x1 + 14 << "\" y1=\"" << ly << "\" x2=\"" << x1 + 36 << "\" y2=\"" << ly << "\" stroke=\"" << c
        << "\" stroke-width=\"" << width << "\"/><text class=\"legend\" x=\"" << x1 + 42 << "\" y=\"" << ly + 4 << "\">"
        << xml(s.name.substr(0, 26)) << "</text>\n";
    } else if (i + 1 == fits) {
      o << "<text class=\"legend\" x=\"" << x1 + 14 << "\" y=\"" << y0 + 12 + 17.0 * i << "\">+"
        << p.series.size() - i << " more (hover the lines)</text>\n";
    }
  }
  o << "</g>\n";
}

void write_svg(std::ostream& o, const Plot& plot, const std::string& title, const std::vector<std::string>& warnings) {
  const int cols = plot.panels.size() > 1 ? 2 : 1;
  const int rows = static_cast<int>((plot.panels.size() + cols - 1) / cols);
  const int lines = static_cast<int>(plot.sources.size() + plot.notes.size() + warnings.size());
  const int head = 44 + 16 * lines, width = cols * kPanelW + 20, height = head + rows * kPanelH + 10;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height << "\" viewBox=\"0 0 "
    << width << " " << height << "\" font-family=\"Helvetica, Arial, sans-serif\">\n"
    << "<style>.title{font-size:14px;font-weight:bold}.tick{font-size:11px;fill:#333}.axis{font-size:12px}"
       ".legend{font-size:11px}.source{font-size:11px;fill:#555}.note{font-size:12px;fill:#b00;font-weight:bold}</style>\n"
    << "<rect width=\"100%\" height=\"100%\" fill=\"#fafafa\"/>\n"
    << "<text x=\"14\" y=\"26\" font-size=\"18\" font-weight=\"bold\">" << xml(title) << "</text>\n";
  int y = 44;
  for (const std::string& n : plot.notes) o << "<text class=\"note\" x=\"14\" y=\"" << (y += 16) - 16 << "\">note: " << xml(n) << "</text>\n";
  for (const std::string& s : plot.sources) o << "<text class=\"source\" x=\"14\" y=\"" << (y += 16) - 16 << "\">" << xml(s) << "</text>\n";
  for (const std::string& w : warnings) o << "<text class=\"note\" x=\"14\" y=\"" << (y += 16) - 16 << "\">warning: " << xml(w) << "</text>\n";
  std::map<std::string, size_t> colors;  // one color per key across panels
  for (size_t i = 0; i < plot.panels.size(); ++i) {
    draw_panel(o, plot.panels[i], 10 + static_cast<int>(i % cols) * kPanelW, head + static_cast<int>(i / cols) * kPanelH, &colors);
  }
  o << "</svg>\n";
}

std::string md(const std::string& s) {
  std::string out = s;
  std::replace(out.begin(), out.end(), '|', '/');
  return out;
}

/// \brief The tables of summary.md: every attnkit benchmark, time and its rate counter.
void write_markdown(std::ostream& o, const Input* attention, const Input* decode) {
  if (attention != nullptr && attention->ok) {
    o << "| benchmark | time | TFLOP/s | kernel |\n|---|---:|---:|---|\n";
    for (const BenchRow& r : gbench_rows(attention->doc)) {
      if (!r.error.empty()) {
        o << "| " << md(r.name) << " | error | | " << md(r.error.substr(0, 70)) << " |\n";
        continue;
      }
      const auto t = r.counters.find("TFLOP/s");
      o << "| " << md(r.name) << " | " << fmt(r.time, "%.3f") << " " << r.unit << " | "
        << (t != r.counters.end() ? fmt(t->second, "%.1f") : "") << " | " << md(r.label.substr(0, 70)) << " |\n";
    }
  }
  if (decode != nullptr && decode->ok) {
    o << (attention != nullptr && attention->ok ? "\n" : "") << "| decode benchmark | time | GB/s | of copy |\n|---|---:|---:|---:|\n";
    double copy = kNaN;
    for (const BenchRow& r : gbench_rows(decode->doc)) {
      if (!r.error.empty()) {
        o << "| " << md(r.name) << " | error: " << md(r.error.substr(0, 70)) << " | | |\n";
        continue;
      }
      auto get = [&](const char* k) { return r.counters.count(k) ? r.counters.at(k) : kNaN; };
      if (std::isfinite(get("copy_GB/s"))) copy = get("copy_GB/s");
      o << "| " << md(r.name) << " | " << fmt(r.time, "%.2f") << " " << r.unit << " | " << fmt(get("GB/s"), "%.0f") << " | "
        << fmt(get("of_copy"), "%.2f") << " |\n";
    }
    if (std::isfinite(copy)) o << "\nMeasured device copy bandwidth: " << fmt(copy, "%.0f") << " GB/s\n";
  }
}

// ---- --self-test: the JSON reader, the name and tick helpers, one small plot ---------------

int self_test() {
  int failures = 0;
  auto check = [&](bool ok, const char* what) {
    if (!ok) ++failures;
    std::printf("%s: %s\n", ok ? "ok  " : "FAIL", what);
  };
  using mini_json::parse;
  {
    const auto r = parse(R"({"a": [1, -2.5e3, 0, true, false, null], "s": "q\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00",
                             "o": {"k": {}}, "e": [], "dup": 1, "dup": 2})");
    const Value* a = r.value.find("a");
    check(r.ok && !r.truncated && a != nullptr && a->array.size() == 6, "a valid document parses");
    check(a != nullptr && a->array.size() == 6 && a->array[1].number == -2500 && a->array[3].boolean && !a->array[4].boolean &&
              a->array[5].type == Value::Type::kNull,
          "numbers, true, false, null");
    check(r.value.str("s") == "q\"\\/\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80", "string escapes; \\u and surrogate pairs to UTF-8");
    check(r.value.find("o")->find("k")->is_object() && r.value.find("e")->array.empty() && r.value.num("dup") == 2,
          "nested and empty containers; a repeated key: the last wins");
  }
  {
    const auto r = parse("[NaN, Infinity, -Infinity, 1E-3, 0.5, -0, 12345678901234567890]");
    const auto& v = r.value.array;
    check(r.ok && v.size() == 7 && std::isnan(v[0].number) && v[1].number > 1e308 && v[2].number < -1e308 && v[3].number == 1e-3 &&
              v[4].number == 0.5 && v[6].number > 1.2e19,
          "NaN, Infinity, -Infinity (Google Benchmark, Python) and exponents");
  }
  int rejected = 0, bad_total = 0;
  for (const char* bad : {"", "[1,]", "{\"a\" 1}", "[01]", "[1.]", "[.5]", "[+1]", "\"\\x\"", "[1] 2", "{a:1}", "[\"\x01\"]",
                          "[tru]", "\"\\ud800\"", "\"\\udc00\"", "[1", "{\"a\":", "[\"abc", "{\"a\":1,}", "-", "[1 2]"}) {
    ++bad_total;
    rejected += parse(bad).ok ? 0 : 1;
    if (parse(bad).ok) std::printf("     accepted: %s\n", bad);
  }
  check(rejected == bad_total, "strict mode rejects 20 malformed documents");
  check(!parse(std::string(1000, '[') + std::string(1000, ']')).ok && parse(std::string(200, '[') + std::string(200, ']')).ok,
        "nesting deeper than 256 is refused");
  {
    const auto r = parse(R"({"context": {"x": 1}, "benchmarks": [{"name": "a", "v": 1}, {"name": "b", "v": 2}, {"name": "c", "v)", true);
    const Value* b = r.value.find("benchmarks");
    check(r.ok && r.truncated && b != nullptr && b->array.size() == 3 && !b->array[1].truncated && b->array[2].truncated &&
              b->array[2].str("name") == "c" && b->array[2].find("v") == nullptr,
          "lenient: a file cut short keeps its complete entries, the cut one is marked");
    const auto n = parse("[1, 2, 3", true);
    check(n.ok && n.truncated && n.value.array.size() == 2, "lenient: a number cut by the end is dropped");
    check(!parse("[1, 2, 3").ok && !parse("[1, x", true).ok, "strict mode refuses a cut file; lenient mode still refuses bad syntax");
  }
  check(clean_name("dense/d128/s1024/causal/min_time:0.200/manual_time") == "dense/d128/s1024/causal" &&
            clean_name("stats_pass/d128/h16/s4096/iterations:3/manual_time") == "stats_pass/d128/h16/s4096",
        "benchmark names lose /min_time:, /iterations: and /manual_time");
  check(tagged("d128", "d") == 128 && tagged("sk32768", "sk") == 32768 && std::isnan(tagged("dx", "d")) && std::isnan(tagged("d", "d")),
        "tagged numbers in name parts");
  check(nice_step(1000) == 200 && nice_step(7) == 2 && nice_step(12) == 2.5 && nice_step(30) == 10 && nice_step(0) == 1,
        "nice tick steps");
  check(pow2_label(512) == "512" && pow2_label(1024) == "1k" && pow2_label(131072) == "128k", "power-of-two tick labels");
  {
    Input att, peers;
    att.file = "att.json";
    att.ok = peers.ok = true;
    att.doc = parse(R"({"benchmarks": [
      {"name": "dense/d64/s1024/full/min_time:0.200/manual_time", "run_type": "iteration", "real_time": 1, "TFLOP/s": 100},
      {"name": "dense/d64/s1024/full/min_time:0.200/manual_time", "run_type": "iteration", "real_time": 3, "TFLOP/s": 300},
      {"name": "dense/d64/s2048/full/min_time:0.200/manual_time", "run_type": "iteration", "real_time": 1, "TFLOP/s": 1, "error_occurred": true},
      {"name": "dense/d64/s4096/full/min_time:0.200/manual_time", "run_type": "iteration", "real_time": 1, "TFLOP/s": 400},
      {"name": "dense/d64/s4096/full_mean", "run_name": "dense/d64/s4096/full/min_time:0.200/manual_time", "run_type": "aggregate",
       "aggregate_name": "mean", "real_time": 1, "TFLOP/s": 500},
      {"name": "features/plain/min_time:0.200/manual_time", "run_type": "iteration", "real_time": 1, "TFLOP/s": 9}]})").value;
    peers.doc = parse(R"({"meta": {"dtype": "fp16"}, "rows": [
      {"kind": "dense", "peer": "flex", "d": 64, "causal": true, "sq": 1024, "value": 200, "unit": "TFLOP/s"},
      {"kind": "dense", "peer": "flex", "d": 64, "causal": true, "sq": 2048, "value": null, "unit": ""},
      {"kind": "decode", "peer": "sdpa_flash", "b": 8, "sk": 4096, "value": 2000, "unit": "GB/s"},
      {"kind": "gqa", "peer": "flex", "d": 128, "causal": true, "sq": 4096, "value": 300, "unit": "TFLOP/s"}]})").value;
    const auto rows = gbench_rows(att.doc);
    check(rows.size() == 4 && rows[0].counters.at("TFLOP/s") == 200 && rows[0].time == 2 && rows[1].error == "error" &&
              rows[2].counters.at("TFLOP/s") == 500,
          "repetitions are averaged, a mean aggregate wins, errored runs are kept apart");
    const Plot plot = build(&att, nullptr, &peers);
    check(plot.panels.size() == 3 && plot.panels[0].title.rfind("attention d64 full", 0) == 0 &&
              plot.panels[1].title.rfind("attention d64 causal", 0) == 0 && plot.panels[1].series[0].name == "flex (fp16)" &&
              plot.panels[2].title.rfind("decode", 0) == 0 && plot.panels[0].series[0].points.size() == 2,
          "panels per (head dim, causal) and decode; n/a and gqa rows left out");
    std::ostringstream svg;
    write_svg(svg, plot, "t<&>", {});
    const std::string s = svg.str();
    size_t polylines = 0;
    for (size_t at = s.find("<polyline"); at != std::string::npos; at = s.find("<polyline", at + 1)) ++polylines;
    check(s.rfind("<svg", 0) == 0 && s.size() > 7 && s.compare(s.size() - 7, 7, "</svg>\n") == 0 && polylines == 3 &&
              s.find("t&lt;&amp;&gt;") != std::string::npos,
          "the SVG: one polyline per series, text escaped");
  }
  std::printf("%s\n", failures == 0 ? "self-test passed" : "self-test FAILED");
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace bench_plot

int main(int argc, char** argv) {
  using namespace bench_plot;
  std::string attention, decode, peers, out = "bench.svg", markdown, title = "attnkit benchmarks";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&](std::string* dst) {
      if (i + 1 >= argc) return false;
      *dst = argv[++i];
      return true;
    };
    bool ok = true;
    if (a == "--self-test") return self_test();
    if (a == "--attention") ok = next(&attention);
    else if (a == "--decode") ok = next(&decode);
    else if (a == "--peers") ok = next(&peers);
    else if (a == "-o" || a == "--output") ok = next(&out);
    else if (a == "--markdown") ok = next(&markdown);
    else if (a == "--title") ok = next(&title);
    else ok = false;
    if (!ok || a == "-h" || a == "--help") {
      std::fprintf(a == "-h" || a == "--help" ? stdout : stderr,
                   "usage: bench_plot [--attention F.json] [--decode F.json] [--peers F.json] [-o out.svg]\n"
                   "                  [--markdown tables.md] [--title TEXT]\n       bench_plot --self-test\n");
      return a == "-h" || a == "--help" ? 0 : 2;
    }
  }
  std::vector<std::string> warnings;
  Input in[3];
  const Input* ptr[3] = {nullptr, nullptr, nullptr};
  const std::string* files[3] = {&attention, &decode, &peers};
  for (int k = 0; k < 3; ++k) {
    if (!files[k]->empty()) {
      in[k] = load(*files[k], &warnings);
      ptr[k] = &in[k];
    }
  }
  const Plot plot = build(ptr[0], ptr[1], ptr[2]);
  for (const std::string& w : warnings) std::printf("warning: %s\n", w.c_str());
  if (!markdown.empty()) {
    std::ofstream md_out(markdown);
    write_markdown(md_out, ptr[0], ptr[1]);
  }
  if (plot.panels.empty()) {
    std::fprintf(stderr, "bench_plot: nothing to plot (no dense attention, decode or peer results)\n");
    return 1;
  }
  std::ofstream svg(out);
  write_svg(svg, plot, title, warnings);
  svg.close();
  if (!svg) {
    std::fprintf(stderr, "bench_plot: cannot write %s\n", out.c_str());
    return 1;
  }
  size_t series = 0;
  for (const Panel& p : plot.panels) {
    std::printf("panel: %s (%zu series)\n", p.title.c_str(), p.series.size());
    series += p.series.size();
  }
  std::printf("bench_plot: wrote %s: %zu panels, %zu series\n", out.c_str(), plot.panels.size(), series);
  return 0;
}
