// Validators for the tool's options, checked while the command line is parsed: a bad value ends
// the command with exit 2 and a message naming the flag, before any file is written and before
// the first LLM call (see Note [Check input before spending]).
#pragma once

#include <optional>
#include <string>

namespace CLI {
class Validator;
}

namespace tg::cli {

// Note [Check input before spending]
// Every input error a command can detect from its flags alone is reported at parse time:
// numbers outside their range, a folder where a file belongs, an output that cannot be
// written. A mistake found after the first call would waste paid calls, and one found after
// the run directory exists would leave a half-made run behind.

// Numbers: the message names the accepted range (CLI11 prefixes the flag's name).
CLI::Validator at_least(double min);
CLI::Validator greater_than(double min);

// An existing, readable file (not a folder).
CLI::Validator input_file();
// TEXT, or @FILE with FILE an existing, readable file.
CLI::Validator text_or_input_file();
// An existing folder.
CLI::Validator input_folder();
// Any path but an existing folder (for files that are created on demand, e.g. the cache).
CLI::Validator not_a_folder();
// A file that can be created or overwritten: not a folder, in an existing writable folder.
CLI::Validator output_file();
// A folder that exists or can be created: not a file, under a writable folder.
CLI::Validator output_folder();

// Why `path` cannot be read as a file, in words a user can act on; nullopt when it can.
std::optional<std::string> input_file_problem(const std::string& path);

}  // namespace tg::cli
