// Datasets, the reference's exact splits and batch order, and evaluation metrics.
//
// Everything here reproduces the TextGrad reference (v0.1.8) bit for bit where results are
// meant to be comparable: the same split rows, the same training batches for seed 42 and the
// same answer parsing, quirks included (see "Reference quirks" near the metrics).
//
// Errors: a file that cannot be opened throws tg::Error; malformed content throws
// tg::ParseError naming the file (and line); bad arguments throw tg::InvalidArgument.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tg {

// ---------------------------------------------------------------------------------------------
// Examples and splits

struct Example {
  // Where the item came from: "<file>#<record>", the record counted from 0 in the source file.
  // Built-in tasks name the file relative to the data directory ("gsm8k/train.jsonl#4530",
  // "bbh/object_counting.json#13"), so the id survives shuffling and identifies the row the
  // reference used. User files use their file name, or the record's own "id" field if present.
  std::string id;
  std::string input;                      // the text given to the model (x)
  std::string target;                     // the gold answer (y)
  std::optional<std::string> image_path;  // resolved against the data file's folder
};

struct Splits {
  std::vector<Example> train;
  std::vector<Example> val;
  std::vector<Example> test;
};

// ---------------------------------------------------------------------------------------------
// Data directory (the folder holding bbh/ and gsm8k/)

// Returns the first existing directory among: explicit_dir (if non-empty, it is the only
// candidate, so a typo is reported instead of silently using another copy), the environment
// variable TEXTGRAD_DATA_DIR, the install's share/textgrad found relative to the library's own
// file (so a moved install works), the install location and the source tree's data/ folder
// (both fixed at build time). Throws tg::Error listing every place it looked.
std::string find_data_dir(const std::string& explicit_dir = "");

// ---------------------------------------------------------------------------------------------
// Built-in tasks. data_dir is resolved with find_data_dir, so "" means "the usual places".

// "object_counting", "word_sorting", "gsm8k".
std::vector<std::string> builtin_task_names();

// Loads a built-in task by name; throws tg::InvalidArgument for an unknown name.
Splits load_builtin_task(const std::string& name, const std::string& data_dir = "");

// BIG-Bench-Hard tasks: bbh/<task>.json, examples[] with input/target. Sequential splits as in
// the reference (no shuffle): [0:50] train, [50:150] val, [150:250] test.
Splits load_object_counting(const std::string& data_dir = "");
Splits load_word_sorting(const std::string& data_dir = "");

// GSM8k, DSPy split: official train shuffled by a fresh Python random.Random(0), [0:200] train,
// [200:500] val; official test shuffled by another fresh Random(0), all 1,319 as test.
// input = "Question: " + question; target = parse_gsm8k_gold(answer).
Splits load_gsm8k(const std::string& data_dir = "");

// The GSM8k gold answer as DSPy derives it: trim, split on whitespace, the second-to-last token
// must be "####", drop commas from the last token, int -> text ("1,000" -> "1000", "-7").
// Throws tg::ParseError describing the problem.
std::string parse_gsm8k_gold(std::string_view answer);

// ---------------------------------------------------------------------------------------------
// User data files: JSONL (one object per line, blank lines skipped) or CSV (RFC 4180, first
// row is the header). For each role the first field name present in a record is used.

struct FieldNames {
  std::vector<std::string> input{"input", "question"};
  std::vector<std::string> target{"target", "answer"};
  // Optional. A relative image path is taken relative to the data file's folder.
  std::vector<std::string> image{"image"};
  // Optional. Without it the id is "<file name>#<record>".
  std::vector<std::string> id{"id"};
};

// Chooses the format from the extension (.jsonl / .csv, case-insensitive).
std::vector<Example> load_examples(const std::string& path, const FieldNames& fields = {});
std::vector<Example> load_jsonl(const std::string& path, const FieldNames& fields = {});
std::vector<Example> load_csv(const std::string& path, const FieldNames& fields = {});

// ---------------------------------------------------------------------------------------------
// Random number generators that reproduce Python's exactly

// The Mersenne Twister MT19937 as used by CPython's random and numpy's legacy RandomState.
class Mt19937 {
 public:
  explicit Mt19937(std::uint32_t seed);                         // init_genrand(seed)
  static Mt19937 from_key(std::span<const std::uint32_t> key);  // init_by_array(key)

  std::uint32_t next_u32();  // one tempered output
  double next_double();      // 53-bit double in [0, 1): (a >> 5) * 2^26 + (b >> 6), / 2^53

 private:
  Mt19937() = default;
  void init_genrand(std::uint32_t seed);
  void twist();

  std::array<std::uint32_t, 624> mt_{};
  std::size_t pos_ = 624;
};

// numpy.random.RandomState(seed) (legacy), the generator behind np.random.seed/shuffle.
class NumpyRandomState {
 public:
  explicit NumpyRandomState(std::uint32_t seed) : mt_(seed) {}

  double random_sample() { return mt_.next_double(); }

  // Uniform in [0, max] by masked rejection sampling (numpy's random_interval).
  std::uint64_t random_interval(std::uint64_t max);

  // np.random.shuffle on a 1-d array: Fisher-Yates from the end.
  template <typename T>
  void shuffle(std::vector<T>& items) {
    for (std::size_t i = items.size(); i-- > 1;) std::swap(items[i], items[random_interval(i)]);
  }

  // np.random.permutation(n).
  std::vector<std::size_t> permutation(std::size_t n);

 private:
  Mt19937 mt_;
};

// Python's random.Random(seed) for a non-negative integer seed (Python seeds with abs(seed)).
class PythonRandom {
 public:
  explicit PythonRandom(std::uint64_t seed);

  double random() { return mt_.next_double(); }
  std::uint64_t getrandbits(int k);          // 0 <= k <= 64
  std::uint64_t randbelow(std::uint64_t n);  // uniform in [0, n), n > 0

  // random.shuffle: for i = n-1..1, swap i with randbelow(i + 1).
  template <typename T>
  void shuffle(std::vector<T>& items) {
    for (std::size_t i = items.size(); i-- > 1;) std::swap(items[i], items[randbelow(i + 1)]);
  }

 private:
  Mt19937 mt_;
};

// The reference's training-batch order. Like its DataLoader, it holds the index array
// [0, dataset_size) and shuffles it in place with np.random (seeded once) at the start of every
// epoch, so the shuffles accumulate; batches are consecutive slices (the last may be short).
// The reference breaks after 4 steps, so by default an epoch yields only the first 4 batches.
class BatchSampler {
 public:
  // steps_per_epoch = 0 yields every batch of the epoch.
  explicit BatchSampler(std::size_t dataset_size, std::size_t batch_size = 3,
                        std::size_t steps_per_epoch = 4, std::uint32_t seed = 42);

  // Shuffles and returns the next epoch's batches (row indices into the train split).
  std::vector<std::vector<std::size_t>> next_epoch();

  std::size_t epochs_started() const { return epochs_; }
  const std::vector<std::size_t>& order() const { return order_; }

 private:
  NumpyRandomState rng_;
  std::vector<std::size_t> order_;
  std::size_t batch_size_;
  std::size_t steps_per_epoch_;
  std::size_t epochs_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Metrics
//
// Reference quirks kept so scores compare with the paper's (docs/reference-defects.md#kept-quirks):
// - parse_integer_answer / string_metric keep only the digits of the last whitespace token that
//   contains a digit, cut at the first '.': the sign is lost (-5 == 5), 3.7 -> 3, 1,000 -> 1000,
//   "x=12" -> 12. A reply without digits, or whose token cannot be read (e.g. "25 m²", where
//   the superscript is a digit for Python but not for int()), scores as the integer 0, so it
//   matches a gold answer of 0. "Digit" and "whitespace" follow Python's Unicode definitions.
// - extract_choice_letter takes the FIRST "Answer: X" in the text, not the last, and keeps the
//   letter's case; multiple_choice_metric compares exactly, so "answer: b" fails against "B".
// - majority_vote breaks ties in favour of the earliest answer and counts "no answer" as a
//   candidate that can win.

// The integer the reference reads from a reply, or nullopt where it would fall back to 0
// (no digit, nothing readable, or a value beyond long long), so callers can log it.
std::optional<long long> parse_integer_answer(std::string_view text);

// 1 iff both sides parse to the same integer (failures count as 0), else 0.
int string_metric(std::string_view prediction, std::string_view ground_truth_answer);

// 1 iff the texts are equal after trimming ASCII whitespace at both ends.
int exact_match(std::string_view prediction, std::string_view truth);

// The letter of the first match of (?i)Answer\s*:\s*([A-D]), as written (may be lowercase).
std::optional<char> extract_choice_letter(std::string_view text);

// 1 iff extract_choice_letter(response) is exactly correct_letter.
int multiple_choice_metric(std::string_view response, char correct_letter);

// The most frequent answer; ties go to the one that appeared first (Python's
// statistics.multimode(...)[0]). nullopt entries ("no answer") take part and may win.
// Throws tg::InvalidArgument for an empty list.
std::optional<std::string> majority_vote(const std::vector<std::optional<std::string>>& answers);

struct ConfidenceInterval {
  double low = 0.0;
  double high = 1.0;
};

// Wilson score interval for `correct` successes out of n (95% by default). Unlike the normal
// approximation it stays inside [0, 1] and is usable at 0% or 100% accuracy on small sets.
// n = 0 gives [0, 1]; correct > n throws tg::InvalidArgument.
ConfidenceInterval wilson_interval(std::size_t correct, std::size_t n,
                                   double z = 1.959963984540054);

// Mean of 0/1 scores (the accuracy); 0 for an empty list.
double accuracy(const std::vector<int>& scores);

}  // namespace tg
