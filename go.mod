module github.com/cdpkit/cdpkit

go 1.26.0
