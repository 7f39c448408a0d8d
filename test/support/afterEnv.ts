import { removeTempDirs } from './tempDirs';

// Every test file: folders made with tempDir() go when the file is done, pass or fail.
afterAll(() => removeTempDirs());
