#include "trial-runner/params_template.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vernier::trial_runner {
namespace {

using ::testing::ElementsAre;

google::protobuf::Value Number(double x) {
  google::protobuf::Value v;
  v.set_number_value(x);
  return v;
}

google::protobuf::Value Text(const std::string& s) {
  google::protobuf::Value v;
  v.set_string_value(s);
  return v;
}

TEST(ParamsTemplateTest, FindsReferencesInOrder) {
  EXPECT_THAT(ReferencedParams("--C=${params.C} --k=${params.kernel} ${x}"),
              ElementsAre("C", "kernel"));
  EXPECT_THAT(ReferencedParams("${params.unclosed"), ElementsAre());
}

TEST(ParamsTemplateTest, FormatsNumbersShortestAndIntegersPlain) {
  EXPECT_EQ(FormatParamValue(Number(64)), "64");
  EXPECT_EQ(FormatParamValue(Number(-3)), "-3");
  EXPECT_EQ(FormatParamValue(Number(0.001)), "0.001");
  EXPECT_EQ(FormatParamValue(Number(1e-05)), "1e-05");
  EXPECT_EQ(FormatParamValue(Number(0.1 + 0.2)), "0.30000000000000004");
  EXPECT_EQ(FormatParamValue(Text("rbf")), "rbf");
}

TEST(ParamsTemplateTest, SubstitutesEveryReference) {
  google::protobuf::Map<std::string, google::protobuf::Value> params;
  params["C"] = Number(2.5);
  params["kernel"] = Text("poly");
  auto out =
      SubstituteParams("--C=${params.C} ${params.kernel}${params.C}", params);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, "--C=2.5 poly2.5");
}

TEST(ParamsTemplateTest, UnknownParameterIsAnError) {
  google::protobuf::Map<std::string, google::protobuf::Value> params;
  auto out = SubstituteParams("--x=${params.missing}", params);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(out.status().message()),
              ::testing::HasSubstr("missing"));
}

}  // namespace
}  // namespace vernier::trial_runner
