#!/bin/sh
# meson install step: put helogate.ini and helogate.env in place from their
# .example copies only when the operator has none. meson's install_data()
# always overwrites, so the real files are never installed by it: an upgrade
# keeps the configuration and leaves the new defaults beside it as *.example.
# usage: install-config.sh ETCDIR   (DESTDIR is honoured)
set -eu
dir="${DESTDIR:-}$1"
for f in helogate.ini helogate.env; do
	if [ -e "$dir/$f" ]; then
		echo "helogate: keeping the existing $dir/$f (new defaults in $f.example)" >&2
	else
		cp "$dir/$f.example" "$dir/$f"
		chmod 0644 "$dir/$f"
		echo "helogate: installed $dir/$f" >&2
	fi
done
