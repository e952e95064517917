#include "topo/xml_reader.h"

#include <gtest/gtest.h>

#include "topo/topo_test_paths.h"

namespace loom {
namespace {

std::string errorOf(std::string_view text, const XmlLimits& limits = {}) {
  auto r = parseXml(text, limits);
  return r.isOk() ? std::string("OK") : r.status().message();
}

TEST(XmlReader, ReadsElementsAttributesAndText) {
  auto r = parseXml(
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
      "<!DOCTYPE topology SYSTEM \"hwloc2.dtd\">\n"
      "<!-- leading comment -->\n"
      "<system version='1'>\n"
      "  <cpu numaid = \"0\" name=\"a &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos; &#65;&#x42;\">\n"
      "    <pci busid=\"0000:01:00.0\"/>\n"
      "    <!-- a comment -- with dashes -->\n"
      "    <note>x &amp; y<![CDATA[ <raw> & ]]></note>\n"
      "  </cpu>\n"
      "</system>\n"
      "<!-- trailing comment -->\n");
  ASSERT_TRUE(r.isOk()) << r.status().message();
  const XmlElement& root = r.value();
  EXPECT_EQ(root.name, "system");
  EXPECT_EQ(root.line, 4);
  ASSERT_NE(root.attribute("version"), nullptr);
  EXPECT_EQ(*root.attribute("version"), "1");
  ASSERT_EQ(root.children.size(), 1u);
  const XmlElement& cpu = root.children[0];
  EXPECT_EQ(cpu.line, 5);
  EXPECT_EQ(*cpu.attribute("numaid"), "0");
  EXPECT_EQ(*cpu.attribute("name"), "a <b> & \"c\" 'd' AB");
  ASSERT_EQ(cpu.children.size(), 2u);
  EXPECT_EQ(cpu.children[0].name, "pci");
  EXPECT_TRUE(cpu.children[0].children.empty());
  EXPECT_EQ(cpu.children[1].text, "x & y <raw> & ");
  EXPECT_EQ(cpu.attribute("missing"), nullptr);
}

TEST(XmlReader, AcceptsAByteOrderMarkAndASelfClosingRoot) {
  EXPECT_EQ(errorOf("\xEF\xBB\xBF<system/>"), "OK");
  EXPECT_EQ(errorOf("<system\n/>\n\n"), "OK");
}

TEST(XmlReader, MismatchedClosingTagNamesBothLines) {
  std::string text = "<system>\n<cpu>\n<gpu>\n</pci>\n</cpu>\n</system>\n";
  EXPECT_EQ(errorOf(text), "line 4: closing tag </pci> does not match <gpu> opened at line 3");
}

struct BadCase {
  const char* what;
  const char* text;
  const char* expected;  // the whole message
};

TEST(XmlReader, RefusesMalformedInputNamingLineAndReason) {
  const BadCase cases[] = {
      {"empty", "", "line 1: the document has no root element"},
      {"only a comment", "<!-- x -->\n", "line 2: the document has no root element"},
      {"unclosed at end", "<system>\n  <cpu>\n", "line 3: end of input inside <cpu> opened at line 2 (unclosed tag)"},
      {"unterminated start tag", "<system>\n<cpu numaid=\"0\"", "line 2: end of input inside the start tag <cpu>"},
      {"unquoted value", "<system>\n<cpu numaid=0/></system>",
       "line 2: value of attribute 'numaid' in <cpu> is not quoted"},
      {"missing =", "<system a></system>", "line 1: attribute 'a' in <system> has no '=value'"},
      {"no space between attributes", "<system a=\"1\"b=\"2\"/>",
       "line 1: expected whitespace, '>' or '/>' in <system>, found 'b'"},
      {"duplicate attribute", "<system a=\"1\" a=\"2\"/>", "line 1: attribute 'a' appears twice in <system>"},
      {"unterminated value", "<system a=\"1/>\n\n", "line 1: unterminated value of attribute 'a' in <system>"},
      {"< in value", "<system a=\"1\n<b/>", "line 2: '<' inside the value of attribute 'a' (missing closing quote?)"},
      {"unterminated comment", "<system>\n<!-- never ends\n</system>",
       "line 2: unterminated comment ('<!--' without '-->')"},
      {"junk after root", "<system/>\nhello", "line 2: junk 'h' after the root element"},
      {"second root", "<system/>\n<system/>", "line 2: second root element after the document's root was closed"},
      {"text before root", "hello<system/>", "line 1: text 'h' before the root element"},
      {"stray close", "</system>", "line 1: closing tag </system> without an open element"},
      {"unknown entity", "<system a=\"&nbsp;\"/>",
       "line 1: unknown entity '&nbsp;' (only &lt; &gt; &amp; &quot; &apos; and &#N; are defined)"},
      {"bare ampersand", "<system>\nA & B</system>",
       "line 2: '&' that does not start an entity reference (write &amp; for a literal '&')"},
      {"bad char reference", "<system a=\"&#0;\"/>", "line 1: character reference '&#0;' is not a valid XML character"},
      {"control byte", "<system>\x01</system>", "line 1: control byte 0x01 is not allowed in XML"},
      {"NUL byte", "(replaced below: a literal cannot hold the NUL)", "line 1: control byte 0x00 is not allowed in XML"},
      {"DOCTYPE internal subset", "<!DOCTYPE x [ <!ENTITY a \"b\"> ]><x/>",
       "line 1: <!DOCTYPE> with an internal subset ('[') is not supported"},
      {"late declaration", "\n<?xml version=\"1.0\"?><x/>",
       "line 2: XML declaration '<?xml' is only allowed at the very start"},
      {"processing instruction", "<x><?php echo ?></x>",
       "line 1: processing instructions ('<?') are not supported in topology files"},
      {"closing tag not terminated", "<x>\n</x", "line 2: closing tag </x is not terminated by '>'"},
      {"bad element name", "<1x/>", "line 1: expected an element name after '<', found '1'"},
  };
  for (const BadCase& c : cases) {
    std::string_view text = c.text;
    if (std::string_view(c.what) == "NUL byte") text = std::string_view("<system>\0</system>", 18);
    EXPECT_EQ(errorOf(text), c.expected) << c.what;
  }
}

TEST(XmlReader, DepthLimitIs64Levels) {
  auto nested = [](int depth) {
    std::string s;
    for (int i = 0; i < depth; ++i) s += "<a>";
    for (int i = 0; i < depth; ++i) s += "</a>";
    return s;
  };
  EXPECT_EQ(errorOf(nested(64)), "OK");
  EXPECT_EQ(errorOf(nested(65)), "line 1: elements nested deeper than 64 levels");
  // Far deeper input must not exhaust the stack either.
  EXPECT_EQ(errorOf(nested(100000)), "line 1: elements nested deeper than 64 levels");
}

TEST(XmlReader, SizeLimitIs16MiB) {
  std::string doc = "<system>" + std::string((16u << 20) - 17, ' ') + "</system>";
  ASSERT_EQ(doc.size(), 16u << 20);
  EXPECT_EQ(errorOf(doc), "OK");
  doc.insert(8, " ");
  EXPECT_EQ(errorOf(doc),
            "line 1: document is 16777217 bytes, more than the 16777216-byte limit for a topology file");
}

TEST(XmlReader, EveryPrefixOfADocumentIsRefusedWithALineOrAccepted) {
  std::string doc = topo_test::readFile(topo_test::fixturesDir() / "four-gpu-nvlink-mesh-topo.xml");
  ASSERT_FALSE(doc.empty());
  size_t rootEnd = doc.rfind('>') + 1;  // only trailing whitespace follows
  for (size_t n = 0; n < rootEnd; ++n) {
    auto r = parseXml(std::string_view(doc).substr(0, n));
    // A prefix can only be complete once the root's closing tag is in.
    ASSERT_FALSE(r.isOk()) << "prefix of " << n << " bytes parsed";
    ASSERT_TRUE(topo_test::hasLineNumber(r.status().message())) << r.status().message();
  }
  for (size_t n = rootEnd; n <= doc.size(); ++n) EXPECT_TRUE(parseXml(doc.substr(0, n)).isOk());
}

TEST(XmlReader, EscapeRoundTrips) {
  std::string nasty = "a<b>&\"c\"'d'\t\n\r";
  auto r = parseXml("<x v=\"" + xmlEscape(nasty) + "\">" + xmlEscape(nasty) + "</x>");
  ASSERT_TRUE(r.isOk()) << r.status().message();
  EXPECT_EQ(*r.value().attribute("v"), nasty);
  EXPECT_EQ(r.value().text, nasty);
}

TEST(XmlReader, ReadsEverySharedFileExceptTheMalformedOne) {
  LOOM_REQUIRE_SHARED_TOPOLOGIES();
  auto files = topo_test::xmlFilesIn(topo_test::sharedTopologiesDir());
  ASSERT_GE(files.size(), 10u);
  for (const auto& path : files) {
    auto r = readXmlFile(path.string());
    bool malformed = path.filename().string().find("MALFORMED") != std::string::npos;
    if (malformed) {
      ASSERT_FALSE(r.isOk()) << path;
      // The first <pci> on line 3 is never closed; </cpu> on line 7 finds <pci> of line 6 still open.
      EXPECT_NE(r.status().message().find("line 7: closing tag </cpu> does not match <pci> opened at line 6"),
                std::string::npos)
          << r.status().message();
      EXPECT_NE(r.status().message().find(path.filename().string()), std::string::npos);
    } else {
      EXPECT_TRUE(r.isOk()) << path << ": " << r.status().message();
    }
  }
}

TEST(XmlReader, MissingFileIsAClearError) {
  auto r = readXmlFile("/nonexistent/topo.xml");
  ASSERT_FALSE(r.isOk());
  EXPECT_EQ(r.status().message(), "cannot open topology file '/nonexistent/topo.xml'");
}

}  // namespace
}  // namespace loom
