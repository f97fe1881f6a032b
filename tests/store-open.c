// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * store-open.c - drives libcbt's store handling (lib/snapshot.c, included
 * here for its static functions) without the module, for
 * tests/host/store.bats:
 *
 *   store-open prepare PATH SIZE   cbt_store_prepare()
 *   store-open open SPEC           open a store spec as snapshot create does,
 *                                  print "PATH-LENGTH SIZE" of the file
 *   store-open fail SPEC           open it, then fail as a refused create
 *                                  does (a file the library made is removed)
 *
 * Exit 0 on success; 1 with cbt_strerror() and the errno name on stderr.
 */
#include "../lib/snapshot.c"

int main(int argc, char **argv)
{
	struct store_file sf;
	uint64_t size;
	struct stat st;
	int ret;

	if (argc == 4 && !strcmp(argv[1], "prepare")) {
		if (cbt_parse_size(argv[3], &size))
			return 2;
		ret = cbt_store_prepare(argv[2], size);
	} else if (argc == 3 && !strcmp(argv[1], "open")) {
		ret = store_open(argv[2], &sf);
		if (!ret) {
			if (fstat(sf.fd, &st) == 0)
				printf("%lld\n", (long long)st.st_size);
			store_close(&sf);
		}
	} else if (argc == 3 && !strcmp(argv[1], "fail")) {
		ret = store_open(argv[2], &sf);
		if (!ret) {
			store_discard(&sf);
			store_close(&sf);
		}
	} else {
		fprintf(stderr, "usage: store-open prepare PATH SIZE | open SPEC | fail SPEC\n");
		return 2;
	}
	if (ret) {
		fprintf(stderr, "%s (%s)\n", cbt_strerror(ret), strerrorname_np(-ret));
		return 1;
	}
	return 0;
}
