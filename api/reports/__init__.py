"""What a scan's flags become for people: the printable HTML report, the Excel workbook, and
the one table of user-facing words (Chinese and English) that these and the web pages share."""
