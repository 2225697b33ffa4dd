package markup

import "strings"

// hostile is text built to make a Markdown renderer slow or its output
// large: deep nesting, unclosed constructs that invite rescans, and
// constructs that expand. Each is about 64 KiB, the most Check allows.
type hostile struct {
	name string
	src  string
}

// fill repeats unit to about 64 KiB, within MaxLength characters.
func fill(unit string) string {
	n := (MaxLength - 16) / len(unit)
	return strings.Repeat(unit, n)
}

func hostileInputs() []hostile {
	nestedList := func() string {
		var b strings.Builder
		for i := 0; b.Len() < MaxLength-600; i++ {
			b.WriteString(strings.Repeat(" ", 2*(i%300)))
			b.WriteString("- a\n")
		}
		return b.String()
	}
	wideTable := strings.Repeat("a|", 500) + "\n" + strings.Repeat("-|", 500) + "\n"
	wideTable += fill("x\n")[:MaxLength-len(wideTable)-16]
	longRef := "[r]: http://e.example/" + strings.Repeat("a", 30000) + "\n\n"
	refUses := longRef + fill("[r]")[:MaxLength-len(longRef)-16]
	return []hostile{
		{"blockquote_gt", fill(">")},
		{"blockquote_gt_space", fill("> ")},
		{"blockquote_lines", fill(">>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>>> a\n")},
		{"blockquote_list", fill(">- ")},
		{"ordered_list", fill("1. ")},
		{"mixed_list", fill("- + ")},
		{"list_indent", nestedList()},
		{"open_brackets", fill("[")},
		{"brackets_then_close", strings.Repeat("[", 32000) + strings.Repeat("]", 32000)},
		{"image_brackets", fill("![")},
		{"nested_images", strings.Repeat("![", 10000) + "a" + strings.Repeat("](http://e.example/)", 2000)},
		{"unclosed_destinations", fill("[a](")},
		{"unclosed_angle_destinations", fill("[a](<")},
		{"paren_destinations", fill("[a](b(")},
		{"unclosed_titles", fill("[a](b \"")},
		{"unclosed_titles_lines", fill("[a](b \"\n")},
		{"unclosed_paren_titles_lines", fill("[a](b (\n")},
		{"unclosed_quote_titles_blank", "[a](b '\n" + fill("x\n")},
		{"unclosed_titles_each_line", fill("[a](b '\nx\n")},
		{"link_labels", fill("[a]")},
		{"link_label_lines", fill("[a]\n")},
		{"collapsed_reference_lines", fill("[a][]\n")},
		{"full_reference_lines", fill("[a][b]\n")},
		{"image_label_lines", fill("![a]\n")},
		{"titled_link_lines", fill("[a](b \"t\")\n")},
		{"footnote_ref_lines", fill("[^a]\n")},
		{"multiline_labels", fill("[a\nb]\n")},
		{"reference_definitions", fill("[a]: b \"t\"\n")},
		{"reference_definitions_short", fill("[a]:b\n")},
		{"links_in_brackets", strings.Repeat("[", 31) + fill("[a](http://e.example/) ")[:60000] + strings.Repeat("]", 31)},
		{"brackets_then_links", strings.Repeat("[", 16000) + fill("[a](b)")[:32000] + strings.Repeat("]", 16000)},
		{"reference_expansion", refUses},
		{"emphasis_open", fill("**a")},
		{"emphasis_nested", strings.Repeat("*", 21000) + "a" + strings.Repeat("*", 21000)},
		{"underscore", fill("_a")},
		{"strike", fill("~~a")},
		{"backticks", fill("``a`")},
		{"backtick_runs", func() string {
			var b strings.Builder
			for i := 1; b.Len() < MaxLength-400; i++ {
				b.WriteString(strings.Repeat("`", i%300+1) + "a")
			}
			return b.String()
		}()},
		{"raw_html_open", fill("<a")},
		{"html_comment_open", fill("<!--")},
		{"autolink_open", fill("<http://")},
		{"entities", fill("&#")},
		{"hashes", fill("#")},
		{"tags", fill("#a ")},
		{"long_tag", "#" + strings.Repeat("a", MaxLength-1)},
		{"mentions_open", fill("@{")},
		{"mentions_unclosed_names", fill("@{a; b ")},
		{"mentions", fill("@{a; a@b.example} ")},
		{"footnote_refs", "[^a]: x\n\n" + fill("[^a]")},
		{"footnote_defs", fill("[^a]: ")},
		{"wide_table", wideTable},
		{"table_pipes", "a|b\n-|-\n" + fill("|\n")},
		{"linkify", fill("www.a")},
		{"linkify_http", fill("http://a.b ")},
		{"emails", fill("a@b.c ")},
		{"hard_breaks", fill("a  \n")},
		{"backslashes", fill("\\[")},
		{"setext", fill("a\n=\n")},
		{"fences", fill("```\n")},
		{"headings", fill("# a\n")},
	}
}
