// Per-endpoint usage of an endpoint pool in a run's records and reports: one "endpoints" line
// per session in events.jsonl, summed over sessions into the reports' Endpoints table.
#include <gtest/gtest.h>

#include <sstream>

#include "endpoint_usage.h"
#include "report.h"
#include "support/cli_fixture.h"

namespace tg {
namespace {

using cli::EndpointUsage;

TEST(EndpointUsage, SessionsAreSummedPerEndpointAndOtherLinesIgnored) {
  const std::string events =
      R"({"type":"call","phase":"forward","endpoints_note":"not this"})"
      "\n"
      R"({"type":"endpoints","endpoints":[{"url":"http://a/v1","requests":5,"failed":1,)"
      R"("ejections":0,"input_tokens":50,"output_tokens":10,"cost_usd":0.5,"priced":true},)"
      R"({"url":"http://b/v1","requests":3,"failed":3,"ejections":1,"input_tokens":0,)"
      R"("output_tokens":0,"cost_usd":0,"priced":true}]})"
      "\n"
      R"({"type":"endpoints","endpoints":[{"url":"http://b/v1","requests":2,"failed":0,)"
      R"("ejections":0,"input_tokens":20,"output_tokens":4,"cost_usd":0.25,"priced":true}]})"
      "\n"
      R"({"type":"endpoints","endpoints":[{"url":"http://a/v1","requ)";  // torn last line
  const std::vector<EndpointUsage> usage = cli::read_endpoint_usage(events);
  ASSERT_EQ(usage.size(), 2u);
  EXPECT_EQ(usage[0].url, "http://a/v1");
  EXPECT_EQ(usage[0].requests, 5);
  EXPECT_EQ(usage[1].url, "http://b/v1");
  EXPECT_EQ(usage[1].requests, 5);
  EXPECT_EQ(usage[1].failed, 3);
  EXPECT_EQ(usage[1].ejections, 1);
  EXPECT_EQ(usage[1].usage.input_tokens, 20);
  EXPECT_DOUBLE_EQ(usage[1].cost_usd, 0.25);
  EXPECT_TRUE(cli::read_endpoint_usage("").empty());
}

TEST(EndpointUsage, ReportsShowATableOnlyForAPool) {
  cli::RunSummary summary;
  EXPECT_EQ(cli::render_markdown(summary).find("## Endpoints"), std::string::npos);
  EXPECT_EQ(cli::render_html(summary).find("<h2>Endpoints</h2>"), std::string::npos);
  summary.endpoints.push_back({"http://a/v1?x=<1>", 7, 2, 1, {100, 20, 0}, 0.0123, true});
  summary.endpoints.push_back({"http://b/v1", 4, 0, 0, {40, 8, 0}, 0, false});
  const std::string md = cli::render_markdown(summary);
  EXPECT_NE(md.find("| Endpoint | Requests | Failed | Taken out | Input tokens | Output tokens | "
                    "Cost (USD) |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| http://a/v1?x=<1> | 7 | 2 | 1 | 100 | 20 | $0.0123 |"), std::string::npos)
      << md;
  EXPECT_NE(md.find("| http://b/v1 | 4 | 0 | 0 | 40 | 8 | unpriced |"), std::string::npos) << md;
  const std::string html = cli::render_html(summary);
  EXPECT_NE(html.find("<td class=\"text\">http://a/v1?x=&lt;1&gt;</td><td>7</td><td>2</td>"),
            std::string::npos);
}

class EndpointUsageCliTest : public testing::CliFixture {
 protected:
  EndpointUsageCliTest() : CliFixture("fake-test-key-endpoints-0123456789abcdef") {}
};

// The row of `url` in report.md's Endpoints table, as its cells.
std::vector<std::string> row_of(const std::string& report, const std::string& url) {
  const size_t at = report.find("| " + url + " |");
  if (at == std::string::npos) return {};
  std::istringstream line(report.substr(at + 2, report.find('\n', at) - at - 2));
  std::vector<std::string> cells;
  std::string cell;
  while (std::getline(line, cell, '|')) {
    const size_t first = cell.find_first_not_of(' ');
    cells.push_back(first == std::string::npos
                        ? ""
                        : cell.substr(first, cell.find_last_not_of(' ') - first + 1));
  }
  return cells;
}

TEST_F(EndpointUsageCliTest, OptimizeWithAPoolRecordsEachEndpointAcrossSessions) {
  fake::FakeLlmServer dropping(
      [](const fake::RecordedRequest&) { return fake::dropped_connection(); });
  const std::string good = server_->base_url() + "/v1";
  const std::string bad = dropping.base_url() + "/v1";
  const std::string run_dir = dir_.file("run");
  std::vector<std::string> args = optimize_args(run_dir, 1);
  args.insert(args.end(), {"--no-cache", "--endpoint", good, "--endpoint", bad});
  testing::ProcessResult first = run(args);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const std::string events = testing::read_text(run_dir + "/events.jsonl");
  EXPECT_NE(events.find("\"type\":\"endpoints\""), std::string::npos);

  std::string report = testing::read_text(run_dir + "/report.md");
  std::vector<std::string> good_row = row_of(report, good);
  std::vector<std::string> bad_row = row_of(report, bad);
  ASSERT_EQ(good_row.size(), 7u) << report;
  ASSERT_EQ(bad_row.size(), 7u) << report;
  // Every request the healthy server saw is counted on its row; the dropping one failed and
  // was taken out.
  EXPECT_EQ(good_row[1], std::to_string(server_->request_count()));
  EXPECT_EQ(good_row[2], "0");
  EXPECT_NE(bad_row[2], "0");
  EXPECT_EQ(bad_row[1], bad_row[2]);
  EXPECT_NE(bad_row[3], "0");
  EXPECT_NE(testing::read_text(run_dir + "/report.html").find("<h2>Endpoints</h2>"),
            std::string::npos);

  // A second session adds to the first: the table is the run's, not the last session's.
  testing::ProcessResult resumed =
      run({"optimize", "--resume", run_dir, "--steps", "2", "--quiet", "--no-cache"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  report = testing::read_text(run_dir + "/report.md");
  EXPECT_EQ(row_of(report, good).at(1), std::to_string(server_->request_count())) << report;
}

}  // namespace
}  // namespace tg
