package admin

// Report output: CSV, JSON lines and PDF, each with the report's title,
// parameters and the audit chain's status.

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"codeberg.org/go-pdf/fpdf"

	"github.com/mattersync/mattersync/internal/fault"
)

// ReportFormat is how a report is written.
type ReportFormat string

// Report formats.
const (
	ReportCSV   ReportFormat = "csv"
	ReportJSONL ReportFormat = "jsonl"
	ReportPDF   ReportFormat = "pdf"
)

// WriteReport writes t to w in format f.
func WriteReport(w io.Writer, t Table, f ReportFormat) error {
	switch f {
	case ReportCSV:
		return writeCSV(w, t)
	case ReportJSONL:
		return writeJSONL(w, t)
	case ReportPDF:
		return writePDF(w, t)
	}
	return fault.Errorf(fault.Invalid, "report format %q: use csv, jsonl or pdf", f)
}

// writeCSV writes a preamble of rows whose first cell is "#" (report,
// parameters, generated, chain status, notes), then the header and the
// rows.
func writeCSV(w io.Writer, t Table) error {
	cw := NewCSVWriter(w)
	cw.Write([]string{"#", "report", t.Title})
	for _, p := range t.Params {
		cw.Write([]string{"#", p[0], p[1]})
	}
	cw.Write([]string{"#", "generated", t.Generated.Format(time.RFC3339) + " by " + firstNonEmpty(t.By, "-")})
	cw.Write([]string{"#", "audit chain", t.Chain.String()})
	for _, n := range t.Notes {
		cw.Write([]string{"#", "note", n})
	}
	cw.Write(t.Columns)
	for _, r := range t.Rows {
		cw.Write(r)
	}
	return cw.Flush()
}

// writeJSONL writes a first line describing the report and the chain,
// one object per row keyed by column, and a last {"end":true} line.
func writeJSONL(w io.Writer, t Table) error {
	enc := json.NewEncoder(w)
	params := map[string]string{}
	for _, p := range t.Params {
		params[p[0]] = p[1]
	}
	if err := enc.Encode(map[string]any{"report": t.Kind, "title": t.Title, "params": params, "generated": t.Generated, "by": t.By,
		"audit_chain": t.Chain, "audit_chain_status": t.Chain.String(), "notes": t.Notes, "rows": len(t.Rows)}); err != nil {
		return err
	}
	for _, r := range t.Rows {
		o := make(map[string]string, len(t.Columns))
		for i, c := range t.Columns {
			if i < len(r) {
				o[c] = r[i]
			}
		}
		if err := enc.Encode(o); err != nil {
			return err
		}
	}
	return enc.Encode(map[string]bool{"end": true})
}

// writePDF lays the report out on A4 landscape pages: title, parameters,
// chain status, notes, then the table (a heading per GroupBy value), with
// the chain status and page number in every footer. Core fonts are
// cp1252: characters outside it print as '?' (CSV and JSON lines keep
// every name exactly).
func writePDF(w io.Writer, t Table) error {
	pdf := fpdf.New("L", "mm", "A4", "")
	tr := pdf.UnicodeTranslatorFromDescriptor("")
	pdf.SetTitle(tr(t.Title), false)
	pdf.SetCreator("mattersync-admin", false)
	pdf.SetAutoPageBreak(true, 15)
	pdf.SetFooterFunc(func() {
		pdf.SetY(-12)
		pdf.SetFont("Helvetica", "I", 7)
		pdf.CellFormat(0, 5, tr(fmt.Sprintf("%s  -  audit chain: %s  -  page %d", t.Title, clipText(t.Chain.String(), 120), pdf.PageNo())), "", 0, "C", false, 0, "")
	})
	pdf.AddPage()
	pdf.SetFont("Helvetica", "B", 14)
	pdf.MultiCell(0, 7, tr(t.Title), "", "L", false)
	pdf.SetFont("Helvetica", "", 9)
	for _, p := range t.Params {
		pdf.MultiCell(0, 5, tr(p[0]+": "+p[1]), "", "L", false)
	}
	pdf.MultiCell(0, 5, tr("generated: "+t.Generated.Format(time.RFC3339)+" by "+firstNonEmpty(t.By, "-")), "", "L", false)
	if !t.Chain.OK {
		pdf.SetTextColor(180, 0, 0)
	}
	pdf.SetFont("Helvetica", "B", 9)
	pdf.MultiCell(0, 5, tr("audit chain: "+t.Chain.String()), "", "L", false)
	pdf.SetTextColor(0, 0, 0)
	pdf.SetFont("Helvetica", "", 9)
	for _, n := range t.Notes {
		pdf.MultiCell(0, 5, tr("note: "+n), "", "L", false)
	}
	pdf.Ln(3)
	// Column widths in proportion to their content, within the page.
	width := 277.0
	weights := make([]float64, len(t.Columns))
	for i, c := range t.Columns {
		weights[i] = float64(min(len(c), 30))
	}
	for _, r := range t.Rows {
		for i := range t.Columns {
			if i < len(r) {
				weights[i] = max(weights[i], float64(min(len(r[i]), 40)))
			}
		}
	}
	var total float64
	for i := range weights {
		if i == t.GroupBy {
			weights[i] = 0
		}
		total += weights[i]
	}
	widths := make([]float64, len(weights))
	for i := range weights {
		if total > 0 {
			widths[i] = width * weights[i] / total
		}
	}
	header := func() {
		pdf.SetFont("Helvetica", "B", 7)
		pdf.SetFillColor(230, 230, 230)
		for i, c := range t.Columns {
			if i != t.GroupBy {
				pdf.CellFormat(widths[i], 5, tr(c), "1", 0, "L", true, 0, "")
			}
		}
		pdf.Ln(-1)
		pdf.SetFont("Helvetica", "", 7)
	}
	group := "\x00"
	if t.GroupBy < 0 {
		header()
	}
	for _, r := range t.Rows {
		if t.GroupBy >= 0 && t.GroupBy < len(r) && r[t.GroupBy] != group {
			group = r[t.GroupBy]
			pdf.Ln(2)
			pdf.SetFont("Helvetica", "B", 10)
			heading := group
			if t.GroupBy+1 < len(r) && t.Columns[t.GroupBy+1] == "matter_name" && r[t.GroupBy+1] != "" {
				heading += " - " + r[t.GroupBy+1]
			}
			pdf.MultiCell(0, 6, tr(t.Columns[t.GroupBy]+" "+heading), "", "L", false)
			header()
		}
		for i := range t.Columns {
			if i == t.GroupBy {
				continue
			}
			v := ""
			if i < len(r) {
				v = r[i]
			}
			pdf.CellFormat(widths[i], 4.5, tr(clipText(v, int(widths[i]*0.75)+4)), "1", 0, "L", false, 0, "")
		}
		pdf.Ln(-1)
	}
	if len(t.Rows) == 0 {
		pdf.MultiCell(0, 5, "no records", "", "L", false)
	}
	return pdf.Output(w)
}

// clipText cuts s to about n characters, marking the cut.
func clipText(s string, n int) string {
	r := []rune(s)
	if n < 4 || len(r) <= n {
		return s
	}
	return string(r[:n-3]) + "..."
}
