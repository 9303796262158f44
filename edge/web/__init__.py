"""The page on the device (``web:`` in config.yaml, off by default): see what the camera sees, name
the strangers, correct mistakes. Imported only when the page is on: with it off, nothing of this
package or of its web library is loaded."""
