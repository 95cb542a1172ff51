package admin

import (
	"encoding/csv"
	"io"
	"strings"
)

// CSVWriter writes CSV that a spreadsheet opens as text: a cell starting
// with = + - @ or a tab or carriage return (a user name, host name, reason
// or address chosen by someone else) gets a leading apostrophe, so Excel
// or LibreOffice never runs it as a formula (OWASP "CSV injection").
// Every CSV the admin CLI writes goes through it.
type CSVWriter struct{ w *csv.Writer }

// NewCSVWriter returns a CSVWriter on w.
func NewCSVWriter(w io.Writer) *CSVWriter { return &CSVWriter{csv.NewWriter(w)} }

// Write writes one row, neutralised; errors surface at Flush.
func (c *CSVWriter) Write(row []string) {
	out := make([]string, len(row))
	for i, cell := range row {
		if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
			cell = "'" + cell
		}
		out[i] = cell
	}
	c.w.Write(out)
}

// Flush writes what is buffered and returns the first error of any write.
func (c *CSVWriter) Flush() error {
	c.w.Flush()
	return c.w.Error()
}
