"""Publishing: upload targets (a local tree, SFTP), the downloads-site client (registration by
diff), CDN purge, platform hand-offs and the user-side verification of what was published.

Pure library code: it imports nothing from cli/, site/ or engine/; release/publish.py and
release/handoff.py turn it into steps.
"""
