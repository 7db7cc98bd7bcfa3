-- POST a 10 KB body to every request, as a backup job sending its log would.
wrk.method = "POST"
wrk.body = string.rep("x", 10240)
wrk.headers["Content-Type"] = "text/plain"
