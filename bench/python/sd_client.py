"""The same program as bench/peers/py_client.py, on the superdynamic package: import, list the tools, call one,
print the result. Tokens come from superdynamic's store (signed in beforehand).

    python sd_client.py URL STORE_PATH TOOL ARGS_JSON
"""
import json
import sys

import superdynamic

url, store_path, tool, args = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
with superdynamic.Client(url, store="file", store_path=store_path, browser=False) as client:
    tools = client.list_tools()
    result = client.call_tool(tool, args)
    print(len(tools), "tools;", result["content"][0]["text"])
